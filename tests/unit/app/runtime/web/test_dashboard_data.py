"""What the dashboard makes of the cluster's answers (pure functions), the consent-log tail's
bookkeeping, the pinned assets and `make run`'s local token."""

from __future__ import annotations

import importlib.util
import os
import stat
import sys
from collections import Counter
from pathlib import Path

from app.records import dumps
from app.runtime.web import dashboard_data as dd
from app.runtime.web.consent_tail import ConsentTail
from app.runtime.web.dashboard import same_origin, short_time
from app.settings import Settings

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


def test_totals_from_the_per_worker_stats_of_before():
    old = {"scope": "this worker, since it started", "forwarded": 3, "opt_outs": 1, "opt_ins": 0,
           "dead_lettered": 0, "suppressed": {"opted_out": 2, "no_phone": 0}}
    totals = {t["key"]: t["value"] for t in dd.totals(old)}
    assert totals["forwarded"] == 3 and totals["suppressed"] == 2
    assert dd.suppressed_by_reason(old)[0] == {"reason": "opted_out", "count": 2, "share": 1.0}
    assert dd.stats_series(old) is None and dd.compliance(old) == []


def test_series_are_sorted_and_laid_on_a_regular_grid():
    series = dd.stats_series(STATS)
    assert series["minute"]["opt_out"] == [1, 4]  # sorted by time
    now = series["minute"]["t"][-1] + 30
    grid = dd.dense(series["minute"], 60, 60, now)
    assert len(grid["t"]) == 60 and grid["t"][-1] == series["minute"]["t"][-1]
    assert sum(grid["opt_out"]) == 5 and grid["opt_out"][-1] == 4 and grid["opt_out"][-4] == 1
    assert all(b - a == 60 for a, b in zip(grid["t"], grid["t"][1:], strict=False))


def test_a_series_in_any_shape_that_is_not_one_is_ignored():
    for bad in ({"series": None}, {"series": {"per_minute": "x"}}, {"series": {"per_minute": [{"opt_outs": 1}]}},
                {"series": {"per_minute": [{"t": "yesterday", "opt_outs": 1}]}}):
        assert dd.stats_series(bad) is None
    ms = 1_800_000_000_000  # milliseconds are taken for what they are
    as_lists = {"series": {"minute": {"t": [ms + 60_000, ms], "opt_outs": [2, 1], "opt_ins": [0, 1]}}}
    assert dd.stats_series(as_lists)["minute"] == {"t": [1.8e9, 1.8e9 + 60], "opt_out": [1, 2], "opt_in": [1, 0]}


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
