"""The review queue: replies a person must judge, kept with the opt-out table (no Faust here).

A reply that mentions an opt-out word without being a clear request is queued for
review. Its item lives in the partition state of its number (so it is co-partitioned
with the opt-out table and recovered from the same changelog), and a small per-partition
index lists the pending ones by deadline. A person decides an item (opt out, or
dismiss); an item not decided by its deadline is opted out (fail closed), unless
``OPTOUT_REVIEW_EXPIRY=keep``. There is no decision that opts anyone in.
"""

from __future__ import annotations

import hashlib
from collections.abc import MutableMapping
from typing import Any

from app.stream.keys import REVIEW_INDEX_KEY, review_item_key

DECISIONS = ("opt_out", "dismiss")

Table = MutableMapping[bytes, Any]


def review_id(partition: int, number: str, account_id: str, message_id: str) -> str:
    """``<partition>.<digest>``: says which partition holds the item, and nothing about the number."""
    digest = hashlib.blake2b(f"{number}|{account_id}|{message_id}".encode(), digest_size=9).hexdigest()
    return f"{partition}.{digest}"


def partition_of(rid: str) -> int | None:
    head, dot, tail = rid.partition(".")
    if not dot or not head.isdigit() or len(head) > 5 or len(tail) != 18:
        return None
    try:
        int(tail, 16)
    except ValueError:
        return None
    return int(head)


def pending_index(table: Table) -> dict[str, list]:
    """review id -> [deadline (ms since the epoch), account id] of the items not decided yet."""
    return dict(table.get(REVIEW_INDEX_KEY) or {})


def enqueue(table: Table, item: dict, max_pending: int) -> bool:
    """Keep ``item`` (pending); False when the partition already holds ``max_pending`` items."""
    index = pending_index(table)
    rid = item["review_id"]
    if rid in index or table.get(review_item_key(rid)) is not None:
        return True  # queued already (a replay)
    if len(index) >= max_pending:
        return False
    index[rid] = [item["deadline_ms"], item["account_id"]]
    table[review_item_key(rid)] = {**item, "state": "pending"}
    table[REVIEW_INDEX_KEY] = index
    return True


def get(table: Table, rid: str) -> dict | None:
    return table.get(review_item_key(rid))


def record_decision(table: Table, rid: str, decision: dict) -> dict | None:
    """Mark the pending item ``rid`` decided; its item as it was, or None if it is not pending."""
    item = table.get(review_item_key(rid))
    if item is None or item.get("state") != "pending":
        return None
    table[review_item_key(rid)] = {**item, "state": "decided", **decision}
    index = pending_index(table)
    index.pop(rid, None)
    table[REVIEW_INDEX_KEY] = index
    return item




def listing(table: Table, account_id: str | None, after: tuple[int, str] | None, limit: int,
            partition: int | None = None) -> list[dict]:
    """Pending items of one partition, oldest deadline first, after the cursor ``(deadline, id)``."""
    rows = sorted((deadline, rid) for rid, (deadline, account) in pending_index(table).items()
                  if (account_id is None or account == account_id)
                  and (partition is None or partition_of(rid) == partition))
    if after is not None:
        rows = [row for row in rows if row > after]
    out = []
    for _, rid in rows[:limit]:
        item = table.get(review_item_key(rid))
        if item is not None:
            out.append(item)
    return out


def expired(table: Table, now_ms: int) -> list[dict]:
    """Pending items whose deadline has passed at ``now_ms``."""
    return [item for rid, (deadline_ms, _) in sorted(pending_index(table).items(), key=lambda kv: kv[1][0])
            if deadline_ms <= now_ms and (item := table.get(review_item_key(rid))) is not None]
