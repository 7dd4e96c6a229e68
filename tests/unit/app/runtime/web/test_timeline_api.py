"""`GET /optouts/{number}/history`: the answer, as_of, bad parameters, tokens, audit, forwarding."""

from __future__ import annotations

import json

import pytest

from app.domain.consent import ConsentState, Source
from app.stream import keys, timeline
from tests.unit.app.runtime.web.conftest import audited, auth, exchange, request, viewer
from tests.unit.app.runtime.web.test_http import error

NUMBER = "+14155550177"
PATH = "/optouts/%2B14155550177/history"
T = "2026-03-02T10:00:00+00:00"


@pytest.fixture
def table(fake):
    from datetime import datetime

    state = ConsentState(True, datetime.fromisoformat(T), "r1", Source.KEYWORD, "keyword", "stop",
                         datetime.fromisoformat(T), "r1")
    history = None
    for mid, minutes, intent, verdict in (("r0", "09:00", "opt_in", "unchanged"), ("r1", "10:00", "opt_out", "applied")):
        history = timeline.append(history, {
            "event_time": f"2026-03-02T{minutes}:00+00:00", "processed_at": f"2026-03-02T{minutes}:01+00:00",
            "intent": intent, "verdict": verdict, "source": "keyword", "rule": "keyword", "message_id": mid,
            "body": "STOP" if intent == "opt_out" else "START", "to": "+18005550000",
            "consent": {"partition": 2, "offset": 40 + len(mid)}}, 200)
    fake.table.clear()
    fake.table[f"{NUMBER}|acme".encode()] = state.to_json()
    fake.table[keys.history_key(NUMBER, "acme")] = history
    fake.table[keys.suppressed_key(NUMBER, "acme")] = {"count": 4, "since": T, "opt_out": "r1"}
    yield fake.table
    fake.table.clear()


def test_the_timeline_of_a_number(served, fake, table):
    reply = exchange(served.port, request("GET", PATH + "?account=acme", headers=viewer()))
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["number"] == NUMBER and body["account_id"] == "acme" and body["as_of"] is None
    assert body["state"] == {"opted_out": True, "changed_at": T, "source": "keyword", "rule": "keyword",
                             "matched": "stop", "message_id": "r1"}
    assert body["suppressed_since_opt_out"] == 4 and body["events_left_out"] == 0
    assert [(e["message_id"], e["verdict"], e["consent"]["offset"]) for e in body["events"]] == [
        ("r0", "unchanged", 42), ("r1", "applied", 42)]
    assert set(timeline.FIELDS) <= set(body["events"][0])
    (record,) = audited(fake.published)
    assert record["numbers_returned"] == 1 and record["route"] == "/optouts/{number}/history"


def test_as_of_answers_the_state_then(served, fake, table):
    reply = exchange(served.port, request("GET", PATH + "?account=acme&as_of=2026-03-02T09:30:00Z", headers=viewer()))
    body = reply.json()
    assert reply.status == 200 and body["as_of"] == "2026-03-02T09:30:00+00:00"
    assert body["state"]["opted_out"] is False and [e["message_id"] for e in body["events"]] == ["r0"]
    before = exchange(served.port, request("GET", PATH + "?account=acme&as_of=2026-03-01T00:00:00%2B01:00",
                                           headers=viewer())).json()
    assert before["state"] is None and before["events"] == []


def test_a_number_never_seen_has_an_empty_timeline(served, fake):
    reply = exchange(served.port, request("GET", "/optouts/4155550199/history", headers=auth()))
    body = reply.json()
    assert body["state"] is None and body["events"] == [] and body["suppressed_since_opt_out"] == 0
    assert body["account_id"] == "default"


@pytest.mark.parametrize("query,name", [
    ("?as_of=yesterday", "invalid_as_of"),
    ("?as_of=2026-03-02T10:00:00", "invalid_as_of"),  # no time zone
    ("?as_of=1999-12-31T23:00:00Z", "invalid_as_of"),
    ("?as_of=2999-01-01T00:00:00Z", "invalid_as_of"),
    ("?as_of=" + "2" * 100, "invalid_as_of"),
    ("?account=", "invalid_account"),
])
def test_bad_parameters_are_400_json(served, fake, query, name):
    body = error(exchange(served.port, request("GET", PATH + query, headers=viewer())), 400, name)
    assert "yesterday" not in json.dumps(body)
    assert fake.published == []


@pytest.mark.parametrize("path", ["/optouts/not-a-number/history", "/optouts/" + "4155550100" * 10 + "/history"])
def test_an_invalid_number_is_400_and_not_echoed(served, fake, path):
    error(exchange(served.port, request("GET", path, headers=viewer())), 400, "invalid_number")


def test_the_timeline_needs_a_token(served, fake):
    error(exchange(served.port, request("GET", PATH)), 401, "unauthorized")
    error(exchange(served.port, request("GET", PATH, headers=auth("wrong"))), 401, "unauthorized")
    settings = served.host.settings
    tokens = settings.admin_token, settings.viewer_token
    object.__setattr__(settings, "admin_token", None)
    object.__setattr__(settings, "viewer_token", None)
    try:
        error(exchange(served.port, request("GET", PATH, headers=auth())), 403, "forbidden")
    finally:
        object.__setattr__(settings, "admin_token", tokens[0])
        object.__setattr__(settings, "viewer_token", tokens[1])
    assert fake.published == []


def test_no_timeline_when_the_audit_record_cannot_be_written(served, fake, table):
    fake.refuse_publish = True
    error(exchange(served.port, request("GET", PATH, headers=viewer())), 503, "unavailable")


def test_a_timeline_held_elsewhere_is_forwarded_and_audited_once(served, fake, table):
    fake.local, fake.owner = False, f"http://127.0.0.1:{served.access_port}"
    answers = iter([False, True])  # asked first: not ours; then, forwarded: ours (the same fake host)
    served.host.local_state = lambda partition: fake.table if next(answers, True) else None
    try:
        reply = exchange(served.port, request("GET", PATH + "?account=acme&as_of=2026-03-02T09:30:00Z",
                                              headers=viewer()))
    finally:
        served._fake(served.host)
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["number"] == NUMBER and body["as_of"] == "2026-03-02T09:30:00+00:00"
    assert [e["message_id"] for e in body["events"]] == ["r0"]
    (record,) = audited(fake.published)
    assert record["via"] == "bearer"


def test_a_worker_that_does_not_answer_is_a_503(served, fake):
    fake.local = False
    error(exchange(served.port, request("GET", PATH, headers=viewer())), 503, "unavailable")


def _pct(text: str) -> str:
    import urllib.parse

    return urllib.parse.quote(text, safe="")


def test_anything_in_the_path_or_query_is_answered_or_refused_in_json(served, fake, table):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    wild = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(number=st.one_of(wild, st.just("+14155550177")), account=st.one_of(st.none(), wild),
           as_of=st.one_of(st.none(), wild, st.datetimes().map(lambda d: d.isoformat() + "Z")))
    def check(number, account, as_of):
        query = "&".join(f"{k}={_pct(v)}" for k, v in (("account", account), ("as_of", as_of)) if v is not None)
        path = f"/optouts/{_pct(number)}/history" + (f"?{query}" if query else "")
        reply = exchange(served.port, request("GET", path, headers=viewer()))
        assert reply.status in (200, 400, 404, 503), (path, reply.status, reply.body[:200])
        body = reply.json()
        if reply.status != 200:
            assert set(body) == {"error", "detail"}
            for given_text in (number, account or "", as_of or ""):
                assert len(given_text) < 8 or given_text not in body["detail"]

    check()
