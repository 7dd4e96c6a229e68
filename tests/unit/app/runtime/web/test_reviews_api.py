"""`GET /reviews` and `POST /reviews/{id}` on the real web server (no Kafka)."""

from __future__ import annotations

import json

import pytest

from app.records import loads
from app.runtime.web import access
from app.stream import review_queue
from app.stream.partitioner import partition_for
from app.stream.routed import Kind
from tests.unit.app.runtime.web.conftest import Peer, audited, auth, exchange, request, viewer
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


# ------------------------------------------------------------ across workers


@pytest.fixture
def owners(served):
    saved = dict(served.host.ownership.owners)
    yield served.host.ownership
    served.host.ownership.owners = saved
    served._fake(served.host)


def test_a_listing_asks_the_other_workers_as_a_worker_and_is_audited_once(served, fake, queued, owners):
    theirs = item("+14155550109", "t0", 1)
    theirs_partition = partition_for("+14155550109", 8)
    with Peer(served, lambda request: (200, {"items": [theirs], "partitions": [theirs_partition]})) as other:
        served.host.local_state = lambda p: fake.table if p != theirs_partition else None
        owners.owners = {theirs_partition: other.url}
        fake.published.clear()
        reply = exchange(_port, request("GET", "/reviews?limit=2", headers=viewer()))
        assert reply.status == 200, reply.body[:300]
        assert [i["message_id"] for i in reply.json()["items"]] == ["t0", "rx"]
        (asked,) = other.seen
        proved = asked["proved"]
        assert isinstance(proved, access.Forwarded) and proved.role is access.Role.VIEWER and proved.via == "bearer"
        assert "Authorization" not in asked["headers"] and asked["asked"] == "/reviews?limit=2"
        (record,) = audited(fake.published)  # once, here: the other worker's part is not an answer to a client
        assert record["numbers_returned"] == 2 and record["forwarded_by"] is None


def test_a_listing_takes_no_part_from_a_url_that_is_not_a_worker(served, fake, queued, owners):
    lie = {"items": [item("+14155550109", "fake", 0)], "partitions": list(range(8))}
    with Peer(served, lambda request: (200, lie), holds_secret=False) as rogue:
        owners.owners = {1: rogue.url}
        served.host.local_state = lambda p: fake.table if p != 1 else None
        body = error(exchange(_port, request("GET", "/reviews", headers=viewer())), 503, "unavailable")
        assert "no valid signature" in body["detail"]
    assert not audited(fake.published)


def test_a_decision_for_an_item_held_elsewhere_is_forwarded_to_its_worker(served, fake, queued, owners):
    target = queued[1]
    partition = partition_for(target["number"], 8)
    owners.owners = {partition: f"http://127.0.0.1:{served.access_port}"}
    answers = iter([False])  # asked first: not ours; then, forwarded: ours (the same fake host)
    served.host.local_state = lambda p: fake.table if next(answers, True) else None
    body = json.dumps({"decision": "opt_out", "decided_by": "agent-7"}).encode()
    reply = exchange(_port, request("POST", f"/reviews/{target['review_id']}", headers=auth(), body=body))
    assert reply.status == 202 and reply.json()["status"] == "accepted", reply.body[:300]
    (output,) = fake.published
    assert loads(output.value)["decided_by"] == "agent-7" and output.partition == partition


def test_without_the_cluster_secret_a_listing_across_workers_says_so(served, fake, queued, owners):
    owners.owners = {1: f"http://127.0.0.1:{served.access_port}"}
    served.host.local_state = lambda p: fake.table if p != 1 else None
    keys = served.host.cluster_keys
    keys.shared = False  # as without OPTOUT_CLUSTER_SECRET: this process's own random keys
    try:
        body = error(exchange(_port, request("GET", "/reviews", headers=viewer())), 503, "unavailable")
    finally:
        keys.shared = True
    assert "OPTOUT_CLUSTER_SECRET must be set on every worker" in body["detail"]
