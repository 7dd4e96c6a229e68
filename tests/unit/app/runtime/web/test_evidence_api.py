"""`GET /evidence`: a number's packet, a period's packet, bounds, bad parameters, tokens, audit."""

from __future__ import annotations

import io
import zipfile

import orjson
import pytest

from app.engine.state import MemoryStore, PartitionState
from app.runtime.web import evidence_api
from app.stream import keys
from app.stream.partitioner import partition_for
from tests.unit.app.runtime.web.conftest import audited, auth, exchange, request, viewer
from tests.unit.app.runtime.web.test_http import error

PARTITIONS = 8
NUMBERS = [f"+1415555{n:04d}" for n in range(150, 170)]


def event(day: int, mid: str, intent: str = "opt_out") -> dict:
    return {"event_time": f"2026-03-{day:02d}T10:00:00+00:00", "processed_at": f"2026-03-{day:02d}T10:00:01+00:00",
            "intent": intent, "verdict": "applied", "source": "keyword", "rule": "keyword", "message_id": mid,
            "body": "STOP" if intent == "opt_out" else "START", "keywords_id": "kw-unknown0000000",
            "consent": {"partition": 1, "offset": 5}}


@pytest.fixture
def tables(served, fake):
    tables = {p: PartitionState(p, MemoryStore()) for p in range(PARTITIONS)}
    for i, number in enumerate(NUMBERS):
        account = "acme" if i % 2 == 0 else "other"
        day = 1 + i % 10  # March 1st to 10th
        history = {"events": [event(day, f"r{i}")]}
        state = {"opted_out": True, "changed_at": history["events"][0]["event_time"], "message_id": f"r{i}",
                 "source": "keyword", "rule": "keyword", "matched": "stop",
                 "last_event_at": history["events"][0]["event_time"], "last_message_id": f"r{i}"}
        tables[partition_for(number, PARTITIONS)].store.write({
            f"{number}|{account}".encode(): orjson.dumps(state),
            keys.history_key(number, account): orjson.dumps(history),
            b"review|0.x": b"{}",
        }, 1)
    served.host.local_state = lambda partition: tables.get(partition)
    yield tables
    served._fake(served.host)


def files(reply) -> dict[str, bytes]:
    assert reply.status == 200, reply.body[:300]
    assert reply.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(reply.body))
    return {name.split("/", 1)[1]: archive.read(name) for name in archive.namelist()}


def test_the_packet_of_a_number(served, fake, tables):
    reply = exchange(served.port, request("GET", "/evidence?number=%2B14155550150&account=acme", headers=viewer()))
    got = files(reply)
    assert set(got) == {"timeline.json", "timeline.csv", "keywords.json", "how-decided.md", "settings.json",
                        "manifest.json"}
    (line,) = orjson.loads(got["timeline.json"])["timelines"]
    assert line["number"] == "+14155550150" and [e["message_id"] for e in line["events"]] == ["r0"]
    keywords = orjson.loads(got["keywords.json"])
    assert keywords["keyword_lists"]["kw-unknown0000000"]["known"] is False
    assert orjson.loads(got["manifest.json"])["keyword_lists_unknown"] == ["kw-unknown0000000"]
    (record,) = audited(fake.published)
    assert record["numbers_returned"] == 1 and record["route"] == "/evidence"


def test_the_packet_of_a_period_holds_every_number_changed_in_it(served, fake, tables):
    reply = exchange(served.port, request(
        "GET", "/evidence?since=2026-03-03T00:00:00Z&until=2026-03-05T00:00:00Z", headers=auth()))
    got = files(reply)
    lines = orjson.loads(got["timeline.json"])["timelines"]
    expected = sorted(n for i, n in enumerate(NUMBERS) if 1 + i % 10 in (3, 4))
    assert [t["number"] for t in lines] == expected
    assert {t["account_id"] for t in lines} == {"acme", "other"}
    (record,) = audited(fake.published)
    assert record["numbers_returned"] == len(expected)
    fake.published.clear()
    one = files(exchange(served.port, request(
        "GET", "/evidence?since=2026-03-03T00:00:00Z&until=2026-03-05T00:00:00Z&account=acme", headers=auth())))
    assert {t["account_id"] for t in orjson.loads(one["timeline.json"])["timelines"]} == {"acme"}
    assert [r["role"] for r in audited(fake.published)] == ["admin"]


def test_a_period_packet_is_the_admins_only(served, fake, tables):
    """It holds whole numbers in bulk (as GET /optouts?mask=0); a viewer asks for one number's packet.
    (It was: a viewer got up to 5,000 whole numbers in one packet.)"""
    for query in ("since=2026-03-03T00:00:00Z&until=2026-03-05T00:00:00Z",
                  "since=2026-03-03T00:00:00Z&until=2026-03-05T00:00:00Z&account=acme"):
        body = error(exchange(served.port, request("GET", f"/evidence?{query}", headers=viewer())), 403, "forbidden")
        assert "admin" in body["detail"]
    assert audited(fake.published) == []
    assert files(exchange(served.port, request("GET", "/evidence?number=%2B14155550150&account=acme",
                                               headers=viewer())))  # one number: the viewer's, as before


def test_a_period_with_too_many_numbers_is_a_413(served, fake, tables, monkeypatch):
    monkeypatch.setattr(evidence_api, "MAX_NUMBERS", 3)
    error(exchange(served.port, request("GET", "/evidence?since=2026-03-01T00:00:00Z&until=2026-03-31T00:00:00Z",
                                        headers=auth())), 413, "too_many_numbers")
    assert audited(fake.published) == []


def test_a_partition_nobody_holds_makes_a_period_503(served, fake, tables):
    served.host.local_state = lambda partition: None if partition == 3 else tables[partition]
    error(exchange(served.port, request("GET", "/evidence?since=2026-03-01T00:00:00Z&until=2026-03-31T00:00:00Z",
                                        headers=auth())), 503, "unavailable")


@pytest.mark.parametrize("query,name", [
    ("", "invalid_request"),
    ("?number=%2B14155550150&since=2026-03-01T00:00:00Z", "invalid_request"),
    ("?since=2026-03-01T00:00:00Z", "invalid_period"),
    ("?since=2026-03-01T00:00:00&until=2026-03-02T00:00:00Z", "invalid_period"),
    ("?since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z", "invalid_period"),
    ("?since=2024-01-01T00:00:00Z&until=2026-01-02T00:00:00Z", "invalid_period"),
    ("?since=soon&until=later", "invalid_period"),
    ("?number=not-a-number", "invalid_number"),
    ("?number=%2B14155550150&account=", "invalid_account"),
])
def test_bad_parameters_are_400_json(served, fake, query, name):
    period = "since" in query and "number" not in query  # the admin's (a viewer's is a 403 before anything)
    body = error(exchange(served.port, request("GET", "/evidence" + query, headers=auth() if period else viewer())),
                 400, name)
    assert "soon" not in body["detail"] and "not-a-number" not in body["detail"]


def test_the_packet_needs_a_token(served, fake):
    error(exchange(served.port, request("GET", "/evidence?number=%2B14155550150")), 401, "unauthorized")
    error(exchange(served.port, request("GET", "/evidence?number=%2B14155550150", headers=auth("bad"))), 401)
    settings = served.host.settings
    tokens = settings.admin_token, settings.viewer_token
    object.__setattr__(settings, "admin_token", None)
    object.__setattr__(settings, "viewer_token", None)
    try:
        error(exchange(served.port, request("GET", "/evidence?number=%2B14155550150", headers=auth())), 403)
    finally:
        object.__setattr__(settings, "admin_token", tokens[0])
        object.__setattr__(settings, "viewer_token", tokens[1])
    assert fake.published == []


def test_no_packet_when_the_audit_record_cannot_be_written(served, fake, tables):
    fake.refuse_publish = True
    error(exchange(served.port, request("GET", "/evidence?number=%2B14155550150&account=acme", headers=viewer())),
          503, "unavailable")


def test_a_number_held_elsewhere_is_forwarded_and_its_zip_passed_on(served, fake, tables):
    fake.owner = f"http://127.0.0.1:{served.access_port}"
    answers = iter([False, True])  # asked first: not ours; then, forwarded: ours (the same fake host)
    served.host.local_state = lambda partition: tables[partition] if next(answers, True) else None
    served.host.owner_of = lambda number: (partition_for(number, PARTITIONS), fake.owner)
    reply = exchange(served.port, request("GET", "/evidence?number=%2B14155550150&account=acme", headers=viewer()))
    got = files(reply)
    assert orjson.loads(got["timeline.json"])["timelines"][0]["number"] == "+14155550150"
    (record,) = audited(fake.published)
    assert record["via"] == "bearer" and record["numbers_returned"] == 1


def test_anything_in_the_query_is_answered_or_refused_in_json(served, fake, tables):
    import urllib.parse

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    wild = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
    moment = st.datetimes().map(lambda d: d.isoformat() + "Z")
    value = st.one_of(st.none(), wild, moment)

    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
    @given(number=st.one_of(st.none(), wild, st.just("+14155550150")), account=value, since=value, until=value,
           admin=st.booleans())
    def check(number, account, since, until, admin):
        pairs = [(k, v) for k, v in (("number", number), ("account", account), ("since", since), ("until", until))
                 if v is not None]
        path = "/evidence" + ("?" + urllib.parse.urlencode(pairs) if pairs else "")
        reply = exchange(served.port, request("GET", path, headers=auth() if admin else viewer()))
        period = number is None and (since is not None or until is not None)
        allowed = (200, 400, 413, 503) if admin or not period else (400, 403)  # a period: the admin's
        assert reply.status in allowed, (path, admin, reply.status, reply.body[:200])
        if reply.status == 200:
            assert reply.headers["content-type"] == "application/zip"
        else:
            body = reply.json()
            assert set(body) == {"error", "detail"}
            for given_text in (number, account, since, until):
                assert not given_text or len(given_text) < 8 or given_text not in body["detail"]

    check()
