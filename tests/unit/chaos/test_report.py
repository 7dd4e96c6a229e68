"""The results files render from scenario results (no Kafka)."""

from __future__ import annotations

import json

from chaos import report
from chaos.checker import check
from chaos.config import SCENARIOS
from chaos.scenarios import ScenarioResult

A = "+16175550001"


def _result(ok: bool) -> ScenarioResult:
    sends = [{"message_id": "s1", "number": A, "t_us": 1_000_000, "acked_us": 1_005_000, "error": None,
              "probe": True, "routed_partition": 0}]
    outputs = {"provider": [{"message_id": "s1", "to": A, "body": "x", "_seen_us": 1_100_000}] if ok else [],
               "suppressed": [], "deadletter": [], "consent": []}
    faults = [{"kind": "kill", "worker": "w1", "at_us": 900_000, "offset_s": 3.0, "restart_s": 4.2}]
    result = ScenarioResult(spec=SCENARIOS["kill-restart"], scale="small", guarantee="at_least_once",
                            faults=[{**faults[0], "at": "2026-01-01T00:00:00+00:00", "gap_s": 0.2}],
                            faults_planned=2, restart_s=[4.2], produced={"sends": 1, "probes": 1, "replies": 0},
                            notes=["fault 2 of 2 skipped"])
    result.check = check({"sends": sends, "replies": [], "numbers": [A], "partitions": 1}, outputs,
                         {A: {"status": 200, "opted_out": False}}, faults=faults, first_seen={"s1": 1_100_000})
    return result


def test_json_and_markdown_render_ok_failed_and_errored_runs(tmp_path):
    errored = ScenarioResult(spec=SCENARIOS["broker-restart"], scale="small", guarantee="exactly_once",
                             error="Traceback ...\nRuntimeError: worker(s) did not start")
    results = [_result(True), _result(False), errored]
    doc = report.build(results, {"started_at": "2026-01-01T00:00:00+00:00", "finished_at": "2026-01-01T00:05:00+00:00",
                                 "scale": {"name": "small", "rate": 250.0, "duration_s": 12.0, "numbers": 1,
                                           "replying": 0}})
    assert doc["ok"] is False
    assert doc["duplicates_per_guarantee"]["at_least_once"]["scenarios"] == 2
    json_path, md_path = report.write(doc, tmp_path)
    assert json.loads(json_path.read_text())["scenarios"][0]["ok"] is True
    text = md_path.read_text()
    assert "| a. kill-restart (1 w) | at_least_once | OK |" in text
    assert "FAILED" in text and "ERROR" in text and "1 send(s) lost" in text
    assert "fault 2 of 2 skipped" in text
    assert "changed during this run" not in text
    doc["runtime_at_start"], doc["runtime_at_end"] = "abc+clean", "def+clean"
    assert "**The worker code (app/) changed during this run** (abc+clean" in report.markdown(doc)
    for r in results:
        assert r.summary()
