"""The hostile-input suite at reduced size (``make chaos`` runs it at full size:
``python -m chaos.hostile --scale full``).

One real worker; ~1,000 records over sms.inbound, sms.outbound and sms.status: every kind of
``chaos/hostile_kinds.py`` (random bytes, invalid UTF-8, non-object JSON, deep nesting, huge
fields, tombstones, schema errors, full-width / Arabic-Indic / other decimal digits, zero-width
and bidi characters, letters for digits, malformed reply metadata, a future START before a
STOP, a reused message id, ...), with null, binary and 100 KB keys and odd headers, mixed with
valid STOPs and sends whose outcome is known. Checked (``chaos/hostile_check.py``): the worker
is alive, not restarted and ``/health`` 200 at the end; every record is dead-lettered with a
reason or processed, as its kind allows; nothing vanished; no send reached the provider with
another number than the digits written; every STOP that must be honoured is (consent record,
``GET /optouts``, a later send suppressed ``opted_out``).
"""

from __future__ import annotations

import pytest

from chaos.hostile import run_hostile
from chaos.hostile_kinds import KINDS, SCALES

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


async def test_hostile_records_are_accounted_for_and_every_stop_is_honoured(topology, workers, tmp_path):
    result = await run_hostile(SCALES["test"], bootstrap=topology.bootstrap, work_dir=tmp_path, topology=topology,
                               started=workers)
    print(result.summary())
    assert result.error is None, result.error
    totals = result.figures["totals"]
    assert totals["records"] >= 800
    assert {row["kind"] for row in result.figures["per_kind"]} >= set(KINDS)
    assert totals.get("vanished", 0) == 0, result.summary(rows=False)
    assert result.worker["alive"] and not result.worker["restarted"], result.worker
    assert result.worker["health_status"] == 200, result.worker
    assert result.figures["misdelivered"] == 0, result.summary(rows=False)
    assert result.honoured["honoured"] == result.honoured["expected"], result.summary(rows=False)
    assert result.ok, result.summary()
