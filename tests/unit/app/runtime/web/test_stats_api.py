"""GET /stats (the cluster's figures, fanned out to the workers holding the partitions),
GET /metrics (Prometheus text), GET /livez and GET /readyz, on the in-process server."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.reports import stats_answer
from app.runtime.web import access, probes, stats_api
from app.stream import figures
from app.stream.tally import Tally
from tests.unit.app.runtime.web.conftest import Peer, digit_runs, exchange, request

NOW_MS = 1_796_000_000_000


def tally(forwarded: int = 3, account: str = "acme") -> Tally:
    t = Tally()
    t.forwarded = forwarded
    t.suppressed = {"opted_out": 2, "no_phone": 1}
    t.dead_lettered = {"not_json": 1}
    t.consent = {"opt_out|keyword|keyword|applied": 2, "opt_in|keyword|keyword|applied": 1,
                 "opt_out|phrase|phrase|unchanged": 1}
    t.confirmations = {"opt-out": 2, "opt-in": 1}
    t.honour_ms = [40, 900]
    t.confirm_ms = [50, 400_000]
    t.prevented = {account: 2}
    return t


def tables(partitions: range, **kw) -> dict[int, dict]:
    out: dict[int, dict] = {}
    for p in partitions:
        table: dict = {}
        figures.add(table, tally(**kw), NOW_MS)
        out[p] = table
    return out


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    """The figures are made at NOW_MS: the server reads them at NOW_MS too (with the wall clock,
    a per-minute series made a minute or a week earlier is empty or gone)."""
    monkeypatch.setattr(stats_api, "clock_ms", lambda: NOW_MS)


@pytest.fixture
def host(served, fake):
    """The served host with its partitions' state replaced; restored after the test."""
    h = served.host
    saved = {name: getattr(h, name) for name in ("local_state", "started", "assigned_once", "rebalancing")}
    saved_owners = dict(h.ownership.owners)
    saved_loop = h.__dict__.get("loop")
    yield h
    for name, value in saved.items():
        setattr(h, name, value)
    h.ownership.owners = saved_owners
    if saved_loop is None:
        h.__dict__.pop("loop", None)
    else:
        h.loop = saved_loop


def run_in_server_loop(served, coro):
    return asyncio.run_coroutine_threadsafe(coro, served.loop).result(10)


def test_stats_totals_every_partition_of_this_worker(served, host):
    held = tables(range(8), account="+14155550100")  # an account named like a number: masked
    host.local_state = lambda p: held.get(p)
    reply = exchange(served.port, request("GET", "/stats"))
    assert reply.status == 200, reply.body[:300]
    body = reply.json()
    assert body["scope"] == "cluster" and body["partitions"] == {"covered": list(range(8)), "count": 8}
    t = body["totals"]
    assert t["forwarded"] == 24 and t["suppressed_by_reason"] == {"no_phone": 8, "opted_out": 16}
    assert t["dead_lettered"] == 8 and t["opt_outs"] == 16 and t["opt_ins"] == 8
    assert t["opt_outs_by_source"] == {"keyword": 16} and t["confirmations"] == {"opt-in": 8, "opt-out": 16}
    assert body["time_to_honour"] == {"count": 16, "p50_s": 0.05, "p99_s": 0.9, "max_s": 0.9}
    assert body["confirmation_delay"]["within_limit"] == 8 and body["confirmation_delay"]["over_limit"] == 8
    assert body["series"]["per_minute"][0]["forwarded"] == 24
    assert body["prevented_sends"][0]["total"] == 16
    assert not digit_runs(json.dumps(body["prevented_sends"]), 5), body["prevented_sends"]
    assert reply.headers["content-type"].startswith("application/json")


def test_stats_is_503_when_a_partition_is_on_no_worker(served, host):
    held = tables(range(7))
    host.local_state = lambda p: held.get(p)
    host.ownership.owners = {}
    reply = exchange(served.port, request("GET", "/stats"))
    assert reply.status == 503 and reply.json()["error"] == "unavailable"


def test_stats_asks_the_workers_holding_the_other_partitions(served, host):
    held = tables(range(0, 8, 2))
    theirs = {str(p): stats_answer.read(t, NOW_MS) for p, t in tables(range(8), forwarded=10).items() if p % 2 or p == 0}
    with Peer(served, lambda request: (200, {"partitions": theirs})) as other:
        host.local_state = lambda p: held.get(p)
        host.ownership.owners = {p: other.url for p in range(1, 8, 2)}
        body = exchange(served.port, request("GET", "/stats")).json()
        # partition 0 is here and there: counted once, from here (3 sends); 1, 3, 5, 7 from there
        assert body["partitions"]["covered"] == list(range(8))
        assert body["totals"]["forwarded"] == 4 * 3 + 4 * 10
        # asked as a worker: a proof the other worker checked (no token, no caller), not a bare header
        (asked,) = other.seen
        assert isinstance(asked["proved"], access.Forwarded) and asked["proved"].role is None
        assert "Authorization" not in asked["headers"]
        # a client's X-Optout-Forwarded header proves nothing: the cluster's answer, never raw figures
        client = exchange(served.port, request("GET", "/stats", headers={"X-Optout-Forwarded": "1"})).json()
        assert client["scope"] == "cluster" and client["partitions"] == {"covered": list(range(8)), "count": 8}
        assert len(other.seen) == 2  # (it asked the other worker, as for any client)
        host.ownership.owners = {p: "http://127.0.0.1:9" for p in range(1, 8, 2)}  # nobody answers there
        assert exchange(served.port, request("GET", "/stats")).status == 503


def test_stats_takes_no_figures_from_a_url_that_does_not_answer_as_a_worker(served, host):
    held = tables(range(0, 8, 2))
    theirs = {str(p): stats_answer.read(t, NOW_MS) for p, t in tables(range(1, 8, 2), forwarded=10).items()}
    with Peer(served, lambda request: (200, {"partitions": theirs}), holds_secret=False) as rogue:
        host.local_state = lambda p: held.get(p)
        host.ownership.owners = {p: rogue.url for p in range(1, 8, 2)}
        reply = exchange(served.port, request("GET", "/stats"))
        assert reply.status == 503 and reply.json()["error"] == "unavailable"
        assert "no valid signature" in reply.json()["detail"]


def test_stats_without_a_shared_secret_says_which_setting_is_missing(served, host):
    held = tables(range(0, 8, 2))
    host.local_state = lambda p: held.get(p)
    host.ownership.owners = {p: "http://127.0.0.1:9" for p in range(1, 8, 2)}
    keys = served.host.cluster_keys
    keys.shared = False  # as without OPTOUT_CLUSTER_SECRET (the keys are then this process's own)
    try:
        reply = exchange(served.port, request("GET", "/stats"))
    finally:
        keys.shared = True
    assert reply.status == 503 and "OPTOUT_CLUSTER_SECRET must be set on every worker" in reply.json()["detail"]


def test_stats_scopes(served, host):
    reply = exchange(served.port, request("GET", "/stats?scope=worker"))
    assert reply.status == 200 and "forwarded" in reply.json() and "suppressed" in reply.json()
    reply = exchange(served.port, request("GET", "/stats?scope=%2B14155550100"))
    assert reply.status == 400 and reply.json()["error"] == "invalid_scope"
    assert "14155550100" not in reply.body.decode()


def test_metrics_is_prometheus_text_with_no_number_in_it(served, host):
    host.metrics.observe([tally(account="+14155550100")], 0.002, 15)
    reply = exchange(served.port, request("GET", "/metrics"))
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/plain")
    text = reply.body.decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert "sms_optout_sends_forwarded" in families and "sms_optout_time_to_honour_seconds" in families
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert samples[("sms_optout_sends_suppressed_total", (("reason", "opted_out"),))] >= 2
    assert samples[("sms_optout_consent_events_total",
                    (("intent", "opt_out"), ("source", "keyword"), ("verdict", "applied")))] >= 2
    assert samples[("sms_optout_ready", ())] in (0, 1)
    assert "14155550100" not in text and "acme" not in text
    for f in families.values():
        for s in f.samples:
            assert not digit_runs(" ".join(v for k, v in s.labels.items() if k != "le"), 5), s


def test_livez_answers_while_the_process_runs(served, host):
    reply = exchange(served.port, request("GET", "/livez"))
    assert reply.status == 200 and reply.json() == {"status": "alive"}


def test_readyz_once_recovered_and_through_a_short_rebalance(served, host, monkeypatch):
    now = [1_000_000]
    monkeypatch.setattr(probes, "clock_ms", lambda: now[0])
    host.started = False
    reply = exchange(served.port, request("GET", "/readyz"))
    assert reply.status == 503 and reply.json() == {"status": "not_ready", "reason": "starting"}
    host.started, host.assigned_once, host.rebalancing = True, True, False
    host.loop = SimpleNamespace(recovering={3: None}, recovery_problems={}, live=lambda: True)
    assert exchange(served.port, request("GET", "/readyz")).status == 503
    host.loop.recovery_problems = {3: "RecoveryStalled: changelog read returned nothing at offset 7 of 9"}
    reply = exchange(served.port, request("GET", "/readyz"))  # which partition stays closed, and that it is
    assert reply.status == 503 and reply.json()["reason"] == (
        "table partition(s) [3] closed until their changelog is read to the end")
    host.loop.recovering, host.loop.recovery_problems = {}, {}
    assert exchange(served.port, request("GET", "/readyz")).json() == {"status": "ready"}
    host.rebalancing = True  # a rebalance: ready through the grace period
    now[0] += 1
    assert exchange(served.port, request("GET", "/readyz")).json() == {"status": "ready", "pending": "rebalancing"}
    now[0] += host.settings.ready_grace_ms
    assert exchange(served.port, request("GET", "/readyz")).status == 200
    now[0] += 1
    assert exchange(served.port, request("GET", "/readyz")).status == 503
    host.rebalancing = False
    assert exchange(served.port, request("GET", "/readyz")).status == 200


def test_readiness_is_measured_from_the_first_unready_probe() -> None:
    r = probes.Readiness(grace_ms=100)
    assert not r.update(False, 0)  # never ready yet
    assert r.update(True, 10)
    assert r.update(False, 20) and r.update(False, 120) and not r.update(False, 121)
    assert r.update(True, 130) and r.update(False, 500) and r.update(False, 600)


