"""The Prometheus alert rules and the Grafana dashboard in ops/ load, and every metric they
name is one the worker's GET /metrics exposes (app/reports/metrics.py's registry)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from app.reports.metrics import Metrics

OPS = Path(__file__).resolve().parents[3] / "ops"
NAME = re.compile(r"\b(?:sms_optout_[a-z0-9_]+|process_[a-z0-9_]+)\b")


def names_in(expr: str) -> set[str]:
    return set(NAME.findall(expr))


def test_the_alert_rules_load_and_name_only_metrics_that_exist() -> None:
    rules = yaml.safe_load((OPS / "prometheus" / "alerts.yml").read_text())
    known = Metrics().names()
    seen: set[str] = set()
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert len({rule["alert"] for rule in alerts}) == len(alerts)
    for rule in alerts:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        used = names_in(rule["expr"])
        assert used, rule["alert"]
        assert used <= known, (rule["alert"], used - known)
        seen |= used
    # what the issue asks alerts for: lag, dead letters, review deadline near, time to honour
    for wanted in ("sms_optout_consumer_lag_records", "sms_optout_dead_letters_total",
                   "sms_optout_review_oldest_deadline_seconds", "sms_optout_time_to_honour_seconds_bucket"):
        assert wanted in seen, wanted


def test_the_dashboard_loads_and_names_only_metrics_that_exist() -> None:
    dashboard = json.loads((OPS / "grafana" / "optout-dashboard.json").read_text())
    known = Metrics().names()
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", ())]
    assert exprs and dashboard["uid"] and dashboard["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for expr in exprs:
        used = names_in(expr)
        assert used and used <= known, (expr, used - known)


def test_bucket_bounds_used_by_rules_exist() -> None:
    """`le="300.0"` (5 minutes) is a bound of the confirmation delay histogram, as exposed."""
    m = Metrics()
    text = m.render().decode()
    assert 'sms_optout_confirmation_delay_seconds_bucket{le="300.0"}' in text
