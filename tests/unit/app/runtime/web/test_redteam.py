"""The security review's findings (issue "Trust boundaries"), one test each, against the real
web server (in-process, fake host, no Kafka). Each failed on the code the review probed and
passes now; they use nothing but HTTP (and the worker's own fixtures), so they can be run
against any version of the server.

- 1 (high): a viewer made the "forwarded" proof itself (an HMAC keyed by its own token) and
  read the review queue, lookups, timelines, evidence and listing pages with no audit record;
- 4 (medium): an admin session cookie acted (POST /optouts, a review decision) for a
  foreign ``Origin`` with a ``text/plain`` body;
- 6 (low): ``/stats`` gave its raw per-partition figures (account names unmasked) to any
  request with an ``X-Optout-Forwarded`` header;
- 7 (low): the session cookie was never Secure, and sign-out did not revoke it;
- 8 (low): requests were forwarded with the role's token to whatever URL a member of the
  consumer group advertised, and its answer passed on;
- 11 (low): a sign-in form with 11 fields was a 500.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.parse

import orjson
import pytest

from app.engine.state import MemoryStore, PartitionState
from app.runtime.web.access import FORWARDED
from app.stream import keys, review_queue
from app.stream.partitioner import partition_for
from tests.unit.app.runtime.web.conftest import (
    TOKEN,
    VIEWER_TOKEN,
    Peer,
    Served,
    audited,
    auth,
    exchange,
    not_audit,
    request,
    viewer,
)

PARTITIONS = 8
NUMBERS = [f"+1415555{n:04d}" for n in range(150, 160)]
ORIGIN = "http://127.0.0.1"  # what the requests of these tests say in Host (conftest.request)
OPT_OUT = {"number": "+14155550177", "account_id": "acme", "reason": "asked by phone", "requested_by": "agent-7"}


def old_proof(token: str, method: str, path: str) -> str:
    """The forwarding proof as it was: anyone holding the token could compute it."""
    return hmac.new(token.encode(), f"forwarded {method} {path}".encode(), hashlib.sha256).hexdigest()


def event(day: int, mid: str) -> dict:
    return {"event_time": f"2026-03-{day:02d}T10:00:00+00:00", "processed_at": f"2026-03-{day:02d}T10:00:01+00:00",
            "intent": "opt_out", "verdict": "applied", "source": "keyword", "rule": "keyword", "message_id": mid,
            "body": "STOP", "keywords_id": "kw-unknown0000000", "consent": {"partition": 1, "offset": 5}}


@pytest.fixture
def tables(served, fake):
    """Opted-out numbers with their timelines, and one review item, in every partition's store."""
    tables = {p: PartitionState(p, MemoryStore()) for p in range(PARTITIONS)}
    for i, number in enumerate(NUMBERS):
        history = {"events": [event(1 + i, f"r{i}")]}
        state = {"opted_out": True, "changed_at": history["events"][0]["event_time"], "message_id": f"r{i}",
                 "source": "keyword", "rule": "keyword", "matched": "stop",
                 "last_event_at": history["events"][0]["event_time"], "last_message_id": f"r{i}"}
        tables[partition_for(number, PARTITIONS)].store.write({
            f"{number}|acme".encode(): orjson.dumps(state), keys.history_key(number, "acme"): orjson.dumps(history)}, 1)
    number = NUMBERS[0]
    partition = partition_for(number, PARTITIONS)
    rid = review_queue.review_id(partition, number, "acme", "m1")
    assert review_queue.enqueue(tables[partition], {
        "review_id": rid, "account_id": "acme", "number": number, "message_id": "m1", "body": "stop this bill",
        "matched": "stop", "rule": "embedded_keyword", "event_time": "2026-03-01T00:00:00+00:00",
        "deadline": "2026-03-15T00:00:00+00:00", "deadline_ms": 10, "queued_at": "2026-03-01T00:00:01+00:00"}, 100)
    served.host.local_state = lambda p: tables.get(p)
    saved = dict(served.host.ownership.owners)
    served.host.ownership.owners = {}
    yield tables, rid
    served.host.ownership.owners = saved
    served._fake(served.host)


def sign_in(port: int, token: str) -> tuple[str, str]:
    """(the Cookie header value, the whole Set-Cookie header) of a sign-in from the dashboard's page."""
    reply = exchange(port, request("POST", "/signin", headers={
        "Origin": ORIGIN, "Content-Type": "application/x-www-form-urlencoded"},
        body=b"token=" + urllib.parse.quote(token).encode()))
    assert reply.status == 303, reply.body[:300]
    header = reply.headers["set-cookie"]
    return header.split(";", 1)[0], header


# ------------------------------------------------------------ finding 1


def test_finding_1_a_viewer_cannot_forge_the_forwarding_proof_to_read_without_an_audit_record(served, fake, tables):
    number = NUMBERS[1]
    quoted = urllib.parse.quote(number)
    first = exchange(served.port, request("GET", "/optouts?limit=1", headers=viewer()))
    assert first.status == 200, first.body[:300]
    cursor = first.json()["next_cursor"]
    asked = [  # (what is asked, the path the old proof covered)
        ("/reviews", "/reviews"),
        (f"/optouts/{quoted}?account=acme", f"/optouts/{number}"),
        (f"/optouts/{quoted}/history?account=acme", f"/optouts/{number}/history"),
        (f"/evidence?number={quoted}&account=acme", "/evidence"),
        (f"/optouts?limit=1000&cursor={cursor}", "/optouts"),
    ]
    for target, path in asked:
        fake.published.clear()
        reply = exchange(served.port, request("GET", target, headers={
            **viewer(), FORWARDED: old_proof(VIEWER_TOKEN, "GET", path)}))
        assert reply.status == 200, (target, reply.status, reply.body[:200])
        records = audited(fake.published)
        assert len(records) == 1, (target, records)  # it was: none at all
        assert records[0]["via"] == "bearer" and records[0]["role"] == "viewer", records[0]
        assert records[0].get("forwarded_by") is None  # a client, not a worker
    if "partitions" in exchange(served.port, request("GET", "/reviews", headers={
            **viewer(), FORWARDED: old_proof(VIEWER_TOKEN, "GET", "/reviews")})).json():
        pytest.fail("a viewer got a worker's part of the review queue")


# ------------------------------------------------------------ finding 4


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example", "Content-Type": "text/plain"},
    {"Origin": "http://evil.example", "Content-Type": "application/json"},
    {"Origin": ORIGIN, "Content-Type": "text/plain"},
    {"Origin": ORIGIN, "Content-Type": "application/x-www-form-urlencoded"},
    {"Content-Type": "application/json"},  # no Origin at all
    {"Referer": f"{ORIGIN}/", "Content-Type": "application/json"},  # a Referer is not an Origin
])
def test_finding_4_an_admin_session_cookie_does_not_act_for_another_site(served, fake, tables, headers):
    _, rid = tables
    cookie, _ = sign_in(served.port, TOKEN)
    fake.published.clear()
    for path, body in (("/optouts", OPT_OUT), (f"/reviews/{rid}", {"decision": "dismiss", "decided_by": "x"})):
        reply = exchange(served.port, request("POST", path, headers={"Cookie": cookie, **headers},
                                              body=json.dumps(body).encode()))
        assert reply.status == 403, (path, reply.status, reply.body[:200])
    assert not_audit(fake.published) == []  # nothing recorded, nothing decided
    # from the dashboard's own page, with a JSON body, the cookie still acts
    reply = exchange(served.port, request("POST", "/optouts", headers={
        "Cookie": cookie, "Origin": ORIGIN, "Content-Type": "application/json"}, body=json.dumps(OPT_OUT).encode()))
    assert reply.status == 202, reply.body[:200]


# ------------------------------------------------------------ finding 6


def test_finding_6_stats_gives_no_raw_figures_to_a_client_header(served, fake, monkeypatch):
    from app.runtime.web import stats_api
    from tests.unit.app.runtime.web.test_stats_api import NOW_MS
    from tests.unit.app.runtime.web.test_stats_api import tables as figure_tables

    monkeypatch.setattr(stats_api, "clock_ms", lambda: NOW_MS)
    account = "tenant-+14155550199"
    held = figure_tables(range(PARTITIONS), account=account)
    served.host.local_state = lambda p: held.get(p)
    try:
        for value in ("1", "yes", old_proof(VIEWER_TOKEN, "GET", "/stats"), old_proof(TOKEN, "GET", "/stats")):
            for headers in ({FORWARDED: value}, {**viewer(), FORWARDED: value}):
                reply = exchange(served.port, request("GET", "/stats", headers=headers))
                assert reply.status in (200, 403), reply.body[:200]
                text = reply.body.decode()
                assert account not in text and "14155550199" not in text, text[:300]  # unmasked: raw figures
                if reply.status == 200:
                    body = reply.json()
                    assert body["scope"] == "cluster" and body["partitions"] == {
                        "covered": list(range(PARTITIONS)), "count": PARTITIONS}
    finally:
        served._fake(served.host)


# ------------------------------------------------------------ finding 7


@pytest.fixture(scope="module")
def secure_served(logs, tmp_path_factory):
    """A server behind TLS, as its settings say (OPTOUT_WEB_COOKIE_SECURE)."""
    import app.settings as settings_module

    real = settings_module.Settings
    settings_module.Settings = lambda **kw: real(**{**kw, "web_cookie_secure": True})
    try:
        served = Served(tmp_path_factory.mktemp("secure"))
    finally:
        settings_module.Settings = real
    yield served
    served.stop()


def test_finding_7_the_session_cookie_is_secure_and_signing_out_revokes_it(served, fake, secure_served):
    cookie, header = sign_in(secure_served.port, VIEWER_TOKEN)
    flags = {f.strip().split("=")[0].lower() for f in header.split(";")[1:]}
    assert "secure" in flags and header.startswith("__Host-"), header
    assert exchange(secure_served.port, request("GET", "/dashboard/data", headers={"Cookie": cookie})).status == 200

    cookie, _ = sign_in(served.port, VIEWER_TOKEN)
    assert exchange(served.port, request("GET", "/dashboard/data", headers={"Cookie": cookie})).status == 200
    reply = exchange(served.port, request("POST", "/signout", headers={
        "Origin": ORIGIN, "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}))
    assert reply.status == 303
    after = exchange(served.port, request("GET", "/dashboard/data", headers={"Cookie": cookie}))
    assert after.status == 401, "the same cookie still works after signing out"


# ------------------------------------------------------------ finding 8


def test_finding_8_a_url_advertised_in_the_group_gets_no_token_and_cannot_answer(served, fake, tables):
    _, rid = tables
    number = NUMBERS[2]
    lie = {"number": number, "account_id": "acme", "opted_out": False, "changed_at": None, "scope": "account"}
    with Peer(served, lambda request: (200, lie), holds_secret=False) as rogue:
        served.host.local_state = lambda p: None  # every partition is held elsewhere: at the rogue's URL
        served.host.owner_of = lambda n: (partition_for(n, PARTITIONS), rogue.url)
        served.host.ownership.owners = {p: rogue.url for p in range(PARTITIONS)}
        for headers in (auth(), viewer()):
            reply = exchange(served.port, request("GET", f"/optouts/{urllib.parse.quote(number)}?account=acme",
                                                  headers=headers))
            assert reply.status == 503 and reply.json().get("opted_out") is None, reply.body[:200]  # no false answer
        reply = exchange(served.port, request("POST", f"/reviews/{rid}", headers=auth(),
                                              body=b'{"decision": "dismiss", "decided_by": "x"}'))
        assert reply.status == 503, reply.body[:200]
        assert rogue.seen, "the rogue URL was not even asked"
        for asked in rogue.seen:
            sent = json.dumps(asked["headers"]) + asked["asked"] + asked["body"].decode("utf-8", "replace")
            assert TOKEN not in sent and VIEWER_TOKEN not in sent, "a client token was sent to the rogue URL"
            assert "Authorization" not in asked["headers"]
        served._fake(served.host)
        # what the rogue was sent, replayed at once to a real worker, is refused there
        asked = rogue.seen[0]
        replay = {k: v for k, v in asked["headers"].items() if k.lower() not in ("host", "content-length")}
        reply = exchange(served.access_port, request(asked["method"], asked["asked"], headers=replay))
        assert reply.status == 401, reply.body[:200]


# ------------------------------------------------------------ finding 11


@pytest.mark.parametrize("body", [
    "&".join(f"f{i}=1" for i in range(11)).encode(),
    "&".join(f"f{i}=1" for i in range(1000)).encode(),
    f"token={VIEWER_TOKEN}&".encode() + "&".join(f"f{i}=1" for i in range(11)).encode(),
    b"token=%FF%FE%FD",  # percent-encoded bytes that are not UTF-8
    b"token=\xff\xfe\x00abc",  # raw bytes that are not UTF-8
    b"token=a&token=b",
    b"%",
    b"=" * 5000,
    b"&" * 5000,
])
def test_finding_11_whatever_is_posted_to_sign_in_is_never_a_5xx(served, fake, body):
    for content_type in ("application/x-www-form-urlencoded", "text/plain; charset=utf-16", "multipart/form-data"):
        reply = exchange(served.port, request("POST", "/signin", headers={
            "Origin": ORIGIN, "Content-Type": content_type}, body=body))
        assert 400 <= reply.status < 500, (body[:40], content_type, reply.status, reply.body[:200])
        assert "set-cookie" not in reply.headers
        assert b"Traceback" not in reply.body
