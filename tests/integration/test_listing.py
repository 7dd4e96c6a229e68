"""Two workers in one group: `GET /optouts` and `GET /optouts.csv` are complete and correct
whichever worker is asked (every opted-out number exactly once, none that opted back in),
each worker reading its own partitions and asking the other for the rest."""

from __future__ import annotations

import asyncio
import csv
import io
import urllib.parse
import urllib.request

import pytest

from tests.integration.harness import VIEWER_TOKEN, Worker, eventually, produce, routed_spread
from tests.integration.test_pipeline import reply

pytestmark = pytest.mark.integration

ADMIN_TOKEN = "integration-admin-token"
STOPPED = [f"+1646555{n:04d}" for n in range(3000, 3040)]  # account "default"
OTHER = [f"+1646555{n:04d}" for n in range(3100, 3110)]  # account "other"
BACK_IN = STOPPED[::4]  # opt back in with START
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def page_through(worker: Worker, query: str, headers: dict | None = None) -> list[dict]:
    items, cursor = [], None
    for _ in range(1000):
        path = f"/optouts?{query}" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        status, body = worker.request("GET", path, headers=headers)
        assert status == 200, (worker.url, path, status, body)
        assert len(body["items"]) <= int(urllib.parse.parse_qs(query).get("limit", ["100"])[0])
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ended")


def export(worker: Worker, query: str = "", token: str = VIEWER_TOKEN) -> list[dict]:
    req = urllib.request.Request(f"{worker.url}/optouts.csv?{query}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/csv")
        text = resp.read().decode()
    return list(csv.DictReader(io.StringIO(text)))


def expected(numbers_by_account: dict[str, list[str]]) -> list[tuple[str, str]]:
    return sorted((n, a) for a, numbers in numbers_by_account.items() for n in numbers)


async def until_listed(worker: Worker, want: list[tuple[str, str]], timeout: float = 90.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    got: list[tuple[str, str]] = []
    while asyncio.get_running_loop().time() < deadline:
        status, body = worker.request("GET", "/optouts?limit=1000&mask=0", headers=ADMIN)
        if status == 200 and body["next_cursor"] is None:
            got = sorted((i["number"], i["account_id"]) for i in body["items"])
            if got == want:
                return
        await asyncio.sleep(0.5)
    raise AssertionError(f"listing never matched: {len(got)} entries, want {len(want)}")


async def test_listing_and_export_are_complete_whichever_worker_is_asked(topology, workers, tmp_path):
    env = {"OPTOUT_ADMIN_TOKEN": ADMIN_TOKEN}
    first = Worker(topology, tmp_path / "a", extra_env=env)
    workers.append(first.start())
    second = Worker(topology, tmp_path / "b", extra_env=env)
    workers.append(second.start())
    both = (first, second)
    for worker in both:
        worker.wait_healthy()
    # healthy is not yet assigned: the second member joins at the first's next heartbeat
    await eventually(lambda: routed_spread(list(both), topology), "both workers holding routed partitions")

    await produce(topology.bootstrap, topology.inbound,
                  [reply(f"stop-{n}", n, "STOP") for n in STOPPED]
                  + [reply(f"stop-o-{n}", n, "STOP", account_id="other") for n in OTHER])
    await until_listed(first, expected({"default": STOPPED, "other": OTHER}))
    await produce(topology.bootstrap, topology.inbound, [reply(f"start-{n}", n, "START") for n in BACK_IN])
    still = [n for n in STOPPED if n not in BACK_IN]
    want = expected({"default": still, "other": OTHER})
    await until_listed(first, want)

    for worker in both:
        whole = page_through(worker, "limit=7&mask=0", headers=ADMIN)
        assert sorted((i["number"], i["account_id"]) for i in whole) == want  # each once, none opted back in
        assert all(i["source"] == "keyword" and i["rule"] and i["opted_out_at"] for i in whole)
        masked = page_through(worker, "limit=1000")
        assert sorted(i["number"] for i in masked) == sorted("+*******" + n[-4:] for n, _ in want)
        assert [i["message_id"] for i in masked] == [i["message_id"] for i in whole]  # the same order
        other = page_through(worker, "limit=5&account=other")
        assert sorted(i["message_id"] for i in other) == sorted(f"stop-o-{n}" for n in OTHER)

        rows = export(worker, "mask=0", token=ADMIN_TOKEN)
        assert sorted((r["number"], r["account_id"]) for r in rows) == want
        assert [r["message_id"] for r in rows] == [i["message_id"] for i in whole]
        assert list(rows[0]) == ["number", "account_id", "opted_out_at", "source", "rule", "matched", "message_id"]
        rows = export(worker, "account=default")
        assert sorted(r["message_id"] for r in rows) == sorted(f"stop-{n}" for n in still)
        assert all(r["number"].startswith("+*******") for r in rows)

    # the work was shared throughout: each worker held some of the routed partitions (so each asked
    # the other). Read from /metrics, not the log: the log masks digit runs, which a random topic id
    # can hold (tee****5736-routed[...])
    assert routed_spread(list(both), topology), "a worker held no routed partition at the end"
