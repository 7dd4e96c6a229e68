"""`GET /reviews` and `POST /reviews/{id}` on the real web server (no Kafka)."""

from __future__ import annotations

import json

import pytest

from app.records import loads
from app.stream import review_queue
from app.stream.partitioner import partition_for
from app.stream.routed import Kind
from tests.unit.app.runtime.web.conftest import auth, exchange, request
from tests.unit.app.runtime.web.test_http import error

NUMBERS = ["+14155550101", "+14155550102", "+14155550103"]


def item(number: str, mid: str, deadline_ms: int, account: str = "default") -> dict:
    rid = review_queue.review_id(partition_for(number, 8), number, account, mid)
    return {"review_id": rid, "account_id": account, "number": number, "message_id": mid, "body": "stop this bill",
            "matched": "stop", "rule": "embedded_keyword", "event_time": "2026-01-01T00:00:00+00:00",
            "deadline": "2026-01-15T00:00:00+00:00", "deadline_ms": deadline_ms,
            "queued_at": "2026-01-01T00:00:01+00:00"}


@pytest.fixture
def queued(fake):
    fake.table.clear()
    items = [item(n, f"r{i}", 1_000 + i) for i, n in enumerate(NUMBERS)] + [item(NUMBERS[0], "rx", 5, "other")]
    for it in items:
        assert review_queue.enqueue(fake.table, it, 100)
    yield items
    fake.table.clear()


def get(path: str, token: bool = True):
    return exchange(_port, request("GET", path, headers=auth() if token else None))


_port = 0


@pytest.fixture(autouse=True)
def port(served):
    global _port
    _port = served.port


def test_listing_needs_the_admin_token(queued):
    error(get("/reviews", token=False), 401, "unauthorized")


def test_listing_is_oldest_deadline_first_and_pages_with_a_stable_cursor(queued):
    first = get("/reviews?limit=2").json()
    assert [i["message_id"] for i in first["items"]] == ["rx", "r0"] and first["next_cursor"]
    second = get(f"/reviews?limit=2&cursor={first['next_cursor']}").json()
    assert [i["message_id"] for i in second["items"]] == ["r1", "r2"] and second["next_cursor"] is None
    assert get("/reviews?account=other").json()["items"][0]["message_id"] == "rx"
    assert "deadline_ms" not in first["items"][0]


@pytest.mark.parametrize("query", ["state=decided", "limit=0", "limit=abc", "limit=5000", "cursor=nope",
                                  "cursor=12~3.zz"])
def test_bad_listing_parameters(queued, query):
    error(get(f"/reviews?{query}"), 400)


def test_a_listing_is_never_partial(queued, fake):
    fake.local = False  # nobody else answers for the partitions
    error(get("/reviews"), 503, "unavailable")


def test_a_decision_is_published_to_the_items_partition(queued, fake):
    target = queued[1]
    body = json.dumps({"decision": "opt_out", "decided_by": "agent-7", "note": "wants out"}).encode()
    reply = exchange(_port, request("POST", f"/reviews/{target['review_id']}", headers=auth(), body=body))
    assert reply.status == 202 and reply.json()["status"] == "accepted"
    (output,) = fake.published
    routed = loads(output.value)
    assert routed["kind"] == Kind.REVIEW_DECISION and routed["review_id"] == target["review_id"]
    assert (routed["decision"], routed["decided_by"], routed["number"]) == ("opt_out", "agent-7", target["number"])
    assert output.partition == partition_for(target["number"], 8)


def test_a_decided_item_answers_already_decided(queued, fake):
    target = queued[0]
    review_queue.record_decision(fake.table, target["review_id"], {"decision": "dismiss", "decided_by": "a", "decided_at": "x"})
    body = json.dumps({"decision": "opt_out", "decided_by": "b"}).encode()
    reply = exchange(_port, request("POST", f"/reviews/{target['review_id']}", headers=auth(), body=body))
    assert reply.status == 200 and reply.json()["status"] == "already_decided" and not fake.published


@pytest.mark.parametrize("body", [b'{"decision": "opt_in", "decided_by": "x"}', b'{"decision": "opt_out"}',
                                  b'{"decision": "opt_out", "decided_by": "x", "state": "subscribed"}', b"[]",
                                  b"not json"])
def test_no_decision_opts_in_and_bad_bodies_are_400(queued, fake, body):
    error(exchange(_port, request("POST", f"/reviews/{queued[0]['review_id']}", headers=auth(), body=body)), 400)
    assert not fake.published


@pytest.mark.parametrize("rid", ["nope", "99.0123456789abcdef01", "3.0123456789abcdef01"])
def test_unknown_items_are_404(queued, rid):
    body = b'{"decision": "dismiss", "decided_by": "x"}'
    error(exchange(_port, request("POST", f"/reviews/{rid}", headers=auth(), body=body)), 404, "not_found")


def test_decisions_need_the_admin_token(queued):
    body = b'{"decision": "dismiss", "decided_by": "x"}'
    error(exchange(_port, request("POST", f"/reviews/{queued[0]['review_id']}", body=body)), 401)
