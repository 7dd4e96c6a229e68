"""What the dashboard makes of the cluster's answers (pure functions), the consent-log tail's
bookkeeping, the pinned assets and `make run`'s local token."""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import json
import os
import stat
import sys
from collections import Counter
from pathlib import Path

from app.records import dumps
from app.reports import stats_answer
from app.runtime.web import dashboard_data as dd
from app.runtime.web import errors
from app.runtime.web.access import Grant, Role
from app.runtime.web.consent_tail import ConsentTail
from app.runtime.web.dashboard import same_origin, short_time
from app.settings import Settings
from app.stream import figures, review_queue
from tests.unit.app.runtime.web.test_reviews_api import item
from tests.unit.app.runtime.web.test_stats_api import NOW_MS, tally

REPO = Path(__file__).resolve().parents[5]


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


STATS = {
    "since": "2026-11-29T10:00:00+00:00",
    "totals": {"forwarded": 10, "suppressed": 3, "suppressed_by_reason": {"opted_out": 2, "no_phone": 1},
               "dead_lettered": 1, "opt_outs": 4, "opt_ins": 1, "confirmations": {"opt_out": 4, "opt_in": 1}},
    "time_to_honour": {"count": 5, "p50_s": 0.5, "p99_s": 1.2, "max_s": 1.3},
    "confirmation_delay": {"limit_s": 300, "count": 5, "within_limit": 5, "over_limit": 0, "p99_s": 0.6},
    "review_queue": {"pending": 2, "oldest": {"age_s": 90, "time_left_s": 864000, "overdue": False}},
    "series": {"per_minute": [{"t": "2026-11-29T13:58:00+00:00", "opt_outs": 4, "opt_ins": 1},
                              {"t": "2026-11-29T13:55:00+00:00", "opt_outs": 1, "opt_ins": 0}],
               "per_hour": [{"t": "2026-11-29T13:00:00+00:00", "opt_outs": 5, "opt_ins": 1}]},
}


def test_totals_and_suppressed_from_the_cluster_stats():
    totals = {t["key"]: t["value"] for t in dd.totals(STATS)}
    assert totals == {"forwarded": 10, "suppressed": 3, "dead_lettered": 1, "opt_outs": 4, "opt_ins": 1,
                      "confirmations": 5}
    rows = dd.suppressed_by_reason(STATS)
    assert [(r["reason"], r["count"], r["share"]) for r in rows] == [("opted_out", 2, 1.0), ("no_phone", 1, 0.5)]
    labels = [r["label"] for r in dd.compliance(STATS)]
    assert labels == ["Time to honour (p50 / p99 / max)", "Confirmations within 300 s", "Review queue"]


def answer(*tallies: tuple[object, int], review: bool = True) -> dict:
    """A real ``GET /stats`` answer (figures counted, read, merged and rendered as
    app/runtime/web/stats_api.py does), through JSON as the dashboard receives it."""
    table: dict = {}
    for counted, at_ms in tallies:
        figures.add(table, counted, at_ms)
    if review:
        assert review_queue.enqueue(table, item("+14155550171", "r1", NOW_MS + 3_600_000), 100)
    merged = stats_answer.merge(stats_answer.empty(), stats_answer.read(table, NOW_MS))
    return json.loads(errors.dumps({"scope": "cluster", "as_of": "2026-11-29T13:58:40+00:00",
                                    "partitions": {"covered": [0], "count": 1},
                                    **stats_answer.render(merged, NOW_MS)}))


def test_a_real_answer_is_read_as_it_was_rendered():
    body = answer((tally(), NOW_MS), (tally(forwarded=5), NOW_MS - 3 * 60_000))
    stats = dd.read_stats(body)
    assert stats == body
    totals = {t["key"]: t["value"] for t in dd.totals(stats)}
    assert totals == {"forwarded": 8, "suppressed": 6, "dead_lettered": 2, "opt_outs": 4, "opt_ins": 2,
                      "confirmations": 6}
    assert dd.suppressed_by_reason(stats) == [{"reason": "opted_out", "count": 4, "share": 1.0},
                                              {"reason": "no_phone", "count": 2, "share": 0.5}]
    assert dd.compliance(stats) == [
        {"label": "Time to honour (p50 / p99 / max)", "value": "0.05 s / 0.9 s / 0.9 s"},
        {"label": "Confirmations within 300 s", "value": "2 of 4 (p99 6.7 min)", "bad": True},
        {"label": "Review queue", "value": "1; oldest 333.0 d old, deadline in 1.0 h", "bad": False},
    ]
    series = dd.stats_series(stats)
    minute = NOW_MS // 60_000 * 60
    assert series["minute"] == {"t": [minute - 180, minute], "opt_out": [2, 2], "opt_in": [1, 1]}
    assert series["hour"] == {"t": [NOW_MS // 3_600_000 * 3600], "opt_out": [4], "opt_in": [2]}  # (at :53)
    panel = dd.stats_panel(stats, None)
    assert panel["available"] and panel["scope"] == "cluster" and panel["totals"] == dd.totals(stats)


def test_the_empty_answer_shows_its_zeros():
    stats = dd.read_stats(answer(review=False))
    assert stats is not None
    totals = {t["key"]: t["value"] for t in dd.totals(stats)}
    # no confirmation sent yet: no purpose, no row (as the dashboard showed it before the contract)
    assert totals == {"forwarded": 0, "suppressed": 0, "dead_lettered": 0, "opt_outs": 0, "opt_ins": 0}
    assert dd.suppressed_by_reason(stats) == []
    assert dd.compliance(stats) == [{"label": "Review queue", "value": "0", "bad": False}]
    assert dd.stats_series(stats) is None  # the charts then come from the consent log's tail


def test_the_per_worker_stats_of_before_are_not_read_as_the_clusters():
    """``GET /stats?scope=worker`` (the former ``/stats``, this worker's counters since it
    started): the dashboard asks for the cluster's answer, never this one; an answer in this
    shape is not the contract's and is shown as not available, as garbage is."""
    old = {"scope": "this worker, since it started", "forwarded": 3, "opt_outs": 1, "opt_ins": 0,
           "dead_lettered": 0, "suppressed": {"opted_out": 2, "no_phone": 0}}
    assert dd.read_stats(old) is None
    assert dd.stats_panel(None, "x") == {"available": False, "error": "x", "scope": None, "totals": [],
                                         "compliance": [], "suppressed": []}


def test_series_are_sorted_and_laid_on_a_regular_grid():
    series = dd.stats_series(STATS)
    assert series["minute"]["opt_out"] == [1, 4]  # sorted by time
    now = series["minute"]["t"][-1] + 30
    grid = dd.dense(series["minute"], 60, 60, now)
    assert len(grid["t"]) == 60 and grid["t"][-1] == series["minute"]["t"][-1]
    assert sum(grid["opt_out"]) == 5 and grid["opt_out"][-1] == 4 and grid["opt_out"][-4] == 1
    assert all(b - a == 60 for a, b in zip(grid["t"], grid["t"][1:], strict=False))


def test_a_series_in_any_shape_that_is_not_one_is_ignored():
    real = answer((tally(), NOW_MS))
    point = real["series"]["per_minute"][0]
    ms = 1_800_000_000_000  # a time in milliseconds, a dict of lists, another spelling: not the contract
    for bad in (None, {"per_minute": "x", "per_hour": []}, {"per_minute": [{"opt_outs": 1}], "per_hour": []},
                {"minute": {"t": [ms + 60_000, ms], "opt_outs": [2, 1], "opt_ins": [0, 1]}},
                {"per_minute": [{**point, "t": ms}], "per_hour": []}):
        assert dd.read_stats({**real, "series": bad}) is None, bad
    for bad_time in ("yesterday", "2026-11-29T14:19:00"):  # a text, not an ISO time with its offset: no point
        stats = dd.read_stats({**real, "series": {"per_minute": [{**point, "t": bad_time}], "per_hour": []}})
        assert stats is not None and dd.stats_series(stats) is None


def test_any_other_shape_of_the_answer_is_not_read():
    real = answer((tally(), NOW_MS))
    assert dd.read_stats(real) == real
    for bad in (None, [], "x", {}, {**real, "totals": None}, {**real, "scope": "this worker, since it started"}):
        assert dd.read_stats(bad) is None
    for change in (lambda a: a["totals"].pop("opt_outs"),  # a key missing, at any level
                   lambda a: a["review_queue"]["oldest"].pop("overdue"),
                   lambda a: a["totals"].update(opt_out=1),  # or another spelling next to it
                   lambda a: a["series"]["per_hour"][0].update(at=1),
                   lambda a: a["time_to_honour"].update(p50_s="0.05"),  # or another type
                   lambda a: a["totals"].update(forwarded=True),
                   lambda a: a["totals"]["suppressed_by_reason"].update(opted_out=2.5),
                   lambda a: a["partitions"].update(count=None)):
        changed = copy.deepcopy(real)
        change(changed)
        assert dd.read_stats(changed) is None


def test_the_gatherer_shows_an_answer_in_another_shape_as_not_available(served):
    class Response:
        def __init__(self, status: int, body: object) -> None:
            self.status, self.body = status, body

        async def __aenter__(self):
            return self

        async def __aexit__(self, *exc) -> None:
            return None

        async def json(self) -> object:
            return self.body

    class Session:
        def __init__(self, status: int, body: object) -> None:
            self.response = Response(status, body)

        def get(self, url: str, headers: dict) -> Response:
            return self.response

    gatherer = dd.Gatherer(served.host, ConsentTail(served.settings))
    grant = Grant(Role.VIEWER, "bearer", "0" * 12)
    real = answer((tally(), NOW_MS))
    assert asyncio.run(gatherer._stats(Session(200, real), grant)) == {"body": real, "error": None}
    old = {"scope": "this worker, since it started", "forwarded": 3}
    assert asyncio.run(gatherer._stats(Session(200, old), grant)) == {
        "body": None, "error": "GET /stats answered in a shape this dashboard does not read"}
    assert asyncio.run(gatherer._stats(Session(200, [1]), grant)) == {
        "body": None, "error": "GET /stats did not answer (ValueError)"}
    assert asyncio.run(gatherer._stats(Session(503, {"error": "unavailable"}), grant))["body"] is None


def test_tail_series_counts_applied_events_per_minute_and_hour():
    now_s = 1_800_000_000
    minute = now_s // 60
    rates = {"opt_out": Counter({minute: 2, minute - 1: 1, minute - 600: 5}), "opt_in": Counter({minute: 1})}
    series = dd.tail_series(rates, now_s)
    assert series["minute"]["opt_out"][-2:] == [1, 2] and sum(series["minute"]["opt_out"]) == 3
    assert sum(series["hour"]["opt_out"]) == 8 and sum(series["hour"]["opt_in"]) == 1


def test_the_consent_tail_keeps_the_latest_events_and_applied_rates(tmp_path):
    tail = ConsentTail(Settings(data_dir=tmp_path), keep=3)
    for n, (intent, verdict) in enumerate([("opt_out", "applied"), ("opt_in", "applied"), ("opt_out", "unchanged"),
                                           ("help", "logged"), ("opt_out", "applied")]):
        tail._take(dumps({"number": f"+1415555010{n}", "intent": intent, "verdict": verdict, "body": "STOP",
                          "event_time": f"2026-11-29T13:0{n}:00+00:00",
                          "processed_at": f"2026-11-29T13:0{n}:01+00:00"}))
    tail._take(b"not json")
    tail._take(b"[1, 2]")
    tail._take(None)
    latest = tail.latest(10)
    assert [e["number"][-1] for e in latest] == ["4", "3", "2"]  # newest first, 3 kept
    assert "body" not in latest[0]  # reply texts are not kept for the list
    assert sum(tail.rates["opt_out"].values()) == 2 and sum(tail.rates["opt_in"].values()) == 1


def test_numbers_are_masked_to_their_last_four_digits():
    assert dd.masked("+14155550171") == "+*******0171"
    assert dd.masked(None) == ""


def test_same_origin_compares_the_host_and_port():
    class Request:
        def __init__(self, host, **headers):
            self.host, self.headers = host, headers

    assert same_origin(Request("127.0.0.1:6066", Origin="http://127.0.0.1:6066"))
    assert same_origin(Request("dash.example:443", Origin="https://dash.example:443"))
    assert same_origin(Request("127.0.0.1:6066", Referer="http://127.0.0.1:6066/numbers/x"))
    assert not same_origin(Request("127.0.0.1:6066", Origin="http://127.0.0.1:6067"))
    assert not same_origin(Request("127.0.0.1:6066", Origin="null", Referer="http://127.0.0.1:6066/"))
    assert not same_origin(Request("127.0.0.1:6066"))
    assert not same_origin(Request("127.0.0.1:6066", Origin="http://[bad"))


def test_short_time():
    assert short_time("2026-11-29T13:58:32.123456+00:00") == "2026-11-29 13:58:32"
    assert short_time(None) == "" and short_time("soon") == "soon"


def test_the_vendored_assets_are_pinned_and_present():
    vendor = load_script("vendor_assets")
    assert vendor.vendor(check_only=True) == []  # make install brought them; nothing to fetch
    for package in vendor.PACKAGES:
        assert package.integrity.startswith("sha512-") and package.version.count(".") == 2
        assert package.tarball == f"https://registry.npmjs.org/{package.name}/-/{package.name}-{package.version}.tgz"


def test_make_run_keeps_one_local_viewer_token(tmp_path):
    run_local = load_script("run_local")
    path = tmp_path / ".run" / "viewer-token"
    token = run_local.viewer_token(path)
    assert len(token) >= 40 and run_local.viewer_token(path) == token  # stable across runs
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert run_local.dashboard_url({}) == "http://127.0.0.1:6066/"
    assert run_local.dashboard_url({"OPTOUT_WEB_HOST": "0.0.0.0", "OPTOUT_WEB_PORT": "7000"}) == \
        "http://127.0.0.1:7000/"
