"""`python -m app import-optouts` on a real broker with a worker: import, import again, bad lines, dry run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import REPO, Collector, Topology, Worker, outbound_ids, produce
from tests.integration.test_pipeline import reply, send, wait_opted_out

pytestmark = pytest.mark.integration

ACCOUNT = "acme"


@pytest.fixture(scope="module")
def live(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Topology, Worker]]:
    topology = Topology(kafka_bootstrap)
    worker = Worker(topology, Path(tmp_path_factory.mktemp("import")))
    worker.start()
    try:
        yield topology, worker
    finally:
        worker.stop()


def import_optouts(topology: Topology, path: Path, *args: str, fmt: str = "csv") -> tuple[int, dict, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "app", "import-optouts", str(path), "--account", ACCOUNT, "--source-format", fmt,
         "--json", *args],
        cwd=REPO, env={**os.environ, **topology.env()}, capture_output=True, text=True, timeout=180,
    )
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def imported_logs(collector: Collector, topology: Topology, name: str) -> list[dict]:
    return [r for r in collector.records[topology.consent] if r.get("requested_by") == f"import:{name}"]


async def test_import_twice_with_bad_lines(live, tmp_path):
    topology, worker = live
    already = "+14155550300"  # opted out by a STOP before the import
    await produce(topology.bootstrap, topology.inbound, [reply("imp-stop-1", already, "STOP", account_id=ACCOUNT)])
    await wait_opted_out(worker, already, account=ACCOUNT)

    good = ["+14155550301", "+14155550302", "+14155550303", "+14155550304"]
    path = tmp_path / "legacy-optouts.csv"
    path.write_text(
        "name,phone,opted_out_at\n"
        "Ann,(415) 555-0301,2024-01-02\n"       # 2
        "Bob,415.555.0302,2024-01-03\n"         # 3
        "Cy\n"                                  # 4: wrong columns
        "\n"                                    # 5: empty
        "Di,not a phone,2024-01-04\n"           # 6: unparseable
        "Ed,+1 415 555 0303,2024-01-05\n"       # 7
        "Flo,,2024-01-06\n"                     # 8: no number
        "Gus,4155550301,2024-01-07\n"           # 9: repeat of line 2
        "Hal,+14155550300,2024-01-08\n"         # 10: already opted out by STOP
        'Ida,"+1 (415) 555-0304",2024-01-09\n'  # 11
    )
    code, first, stderr = import_optouts(topology, path)
    assert code == 0, stderr
    assert first["numbers"] == 5 and first["requested_by"] == "import:legacy-optouts.csv"
    assert [(u["line"], u["problem"]) for u in first["unparseable"]] == [
        (4, "wrong columns"), (6, "unparseable"), (8, "no number")]
    assert first["empty_lines"] == [5] and first["repeated"] == [{"line": 9, "first_line": 2}]
    result = first["result"]
    assert result["sent"] == 5 and result["failed"] == 0
    assert result["outcomes"] == {"applied": 4, "unchanged": 1, "stale": 0, "replayed": 0}
    assert "publishing" in stderr and "applying" in stderr  # the progress bar (on a pipe: lines)

    for number in good:
        state = await wait_opted_out(worker, number, account=ACCOUNT)
        assert state["source"] == "operator" and state["message_id"].startswith("import:")
    assert (await wait_opted_out(worker, already, account=ACCOUNT))["source"] == "keyword"  # unchanged

    async with Collector(topology.bootstrap, [topology.consent]) as out:
        await out.until(lambda c: len(imported_logs(c, topology, path.name)) >= 5)
        await out.settle(1.0)
        logs = imported_logs(out, topology, path.name)
        assert sorted(r["number"] for r in logs) == sorted([*good, already])
        assert all(r["source"] == "operator" and r["reason"] == "imported from legacy-optouts.csv" for r in logs)
        assert all(r["account_id"] == ACCOUNT for r in logs)
        assert {r["number"]: r["verdict"] for r in logs}[already] == "unchanged"
        consent_before = len(out.records[topology.consent])

    # the same file again: nothing changes, nothing new in the consent log
    code, second, stderr = import_optouts(topology, path)
    assert code == 0, stderr
    assert second["result"]["sent"] == 5
    assert second["result"]["outcomes"] == {"applied": 0, "unchanged": 0, "stale": 0, "replayed": 5}
    assert [u["line"] for u in second["unparseable"]] == [4, 6, 8]
    async with Collector(topology.bootstrap, [topology.consent]) as out:
        await out.settle(2.0)
        assert len(out.records[topology.consent]) == consent_before
    for number in good:
        assert (await wait_opted_out(worker, number, account=ACCOUNT))["source"] == "operator"

    # and a send to an imported number is suppressed
    await produce(topology.bootstrap, topology.outbound, [send("imp-send-1", good[0], account_id=ACCOUNT)])
    async with Collector(topology.bootstrap, topology.outputs) as out:
        await out.until(lambda c: "imp-send-1" in outbound_ids(c, topology))
        assert outbound_ids(out, topology)["imp-send-1"] == ["suppressed:opted_out"]


async def test_dry_run_publishes_nothing(live, tmp_path):
    topology, worker = live
    path = tmp_path / "dry.txt"
    path.write_text("+14155550310\n+14155550311\nnope\n")
    async with Collector(topology.bootstrap, [topology.consent]) as out:
        await out.settle(1.0)
        before = len(out.records[topology.consent])
    code, report, stderr = import_optouts(topology, path, "--dry-run")
    assert code == 0, stderr
    assert report["dry_run"] is True and report["result"] is None and report["numbers"] == 2
    assert [u["line"] for u in report["unparseable"]] == [3]
    async with Collector(topology.bootstrap, [topology.consent]) as out:
        await out.settle(2.0)
        assert len(out.records[topology.consent]) == before
    for number in ("+14155550310", "+14155550311"):
        status, state = worker.get(f"/optouts/{number}?account={ACCOUNT}")
        assert status == 200 and state["opted_out"] is False


async def test_twilio_log_and_aws_json_exports(live, tmp_path):
    topology, worker = live
    log = tmp_path / "twilio-messages.csv"
    log.write_text(
        "From,To,Body,Status,SentDate,ErrorCode,Direction\n"
        "+14155550320,+14155550000,Stop,received,2025-01-01 10:00:00,,inbound\n"
        "+14155550000,+14155550321,Sale,failed,2025-01-01 11:00:00,21610,outbound-api\n"
        "+14155550322,+14155550000,STOP,received,2025-01-01 10:00:00,,inbound\n"
        "+14155550322,+14155550000,START,received,2025-01-02 10:00:00,,inbound\n"
        "+14155550323,+14155550000,thanks!,received,2025-01-01 10:00:00,,inbound\n"
    )
    code, report, stderr = import_optouts(topology, log, fmt="twilio")
    assert code == 0, stderr
    assert report["numbers"] == 2 and report["result"]["outcomes"]["applied"] == 2
    assert report["resubscribed"] == [{"number": "+14155550322", "opt_out_line": 4, "opt_in_line": 5}]
    aws = tmp_path / "aws-opted-out.json"
    aws.write_text(json.dumps({"OptedOutNumbers": [
        {"OptedOutNumber": "+14155550324", "OptedOutTimestamp": 1.7e9, "EndUserOptedOut": True},
        {"OptedOutNumber": "+14155550320", "OptedOutTimestamp": 1.7e9, "EndUserOptedOut": True}]}, indent=2))
    code, report, stderr = import_optouts(topology, aws, fmt="aws")
    assert code == 0, stderr
    # +14155550320 came from the Twilio file: another file, so a new event, logged as 'unchanged'
    assert report["result"]["outcomes"] == {"applied": 1, "unchanged": 1, "stale": 0, "replayed": 0}
    for number in ("+14155550320", "+14155550321", "+14155550324"):
        await wait_opted_out(worker, number, account=ACCOUNT)
    status, state = worker.get(f"/optouts/+14155550322?account={ACCOUNT}")
    assert status == 200 and state["opted_out"] is False
