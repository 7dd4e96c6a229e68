"""Every key of a routed partition's state: one home for the key space (no Kafka, no I/O).

A routed partition's state (the opt-out table: :class:`app.engine.state.PartitionState`
over a RocksDB database, :mod:`app.runtime.rocks`, recovered from its changelog) holds
these keys. Their bytes are stored on disk and in the changelog topics: a change here is a
change of the stored layout (``tests/unit/app/stream/test_keys.py`` pins every one).

Kept per number and account (``<E.164>`` starts with ``+``; ``<account>`` is ``*`` for
every account in global scope, :data:`GLOBAL_ACCOUNT`):

- ``<E.164>|<account>``: the consent state (:class:`app.domain.consent.ConsentState`),
  :func:`consent_key`. The opt-out listing reads these (keys starting with
  :data:`CONSENT_PREFIX`).
- ``<E.164>|<account>|replies``: the message ids of recent HELP and review replies,
  :func:`replies_key` (:mod:`app.stream.decider`).
- ``<E.164>|<account>|history``: the consent timeline's counters, :func:`history_key`;
  ``<E.164>|<account>|suppressed``: the sends suppressed since the latest opt-out,
  :func:`suppressed_key` (:mod:`app.stream.timeline`).

Kept per partition (never starting with ``+``, so a listing of the consent keys skips them):

- ``history|<E.164>|<account>|<slot, 4 digits>``: one kept timeline entry, :func:`slot_key`.
- ``keywords|configs``: the index of the keyword configurations seen, :data:`CONFIGS_KEY`;
  ``keywords|<config id>`` (``cfg-<hex>``): one configuration, :func:`config_key`.
- ``reviews|pending``: the index of the pending review items, :data:`REVIEW_INDEX_KEY`;
  ``review|<review id>``: one review item, :func:`review_item_key` (:mod:`app.stream.review_queue`).

Bookkeeping keys (:data:`BOOKKEEPING_PREFIX`, ``__``), written after every other key of a
checkpoint (:meth:`app.engine.state.PartitionState.pending`):

- ``__origins__``: the highest input offset decided per input partition, :data:`ORIGINS_KEY`
  (:mod:`app.engine.processor`).
- ``__stats__``: the partition's figures since it first counted, :data:`STATS_TOTALS_KEY`;
  ``__stats__|m|<slot>``, ``__stats__|h|<slot>``, ``__stats__|d|<slot>``: the minute, hour
  and day buckets, :func:`stats_minute_key`, :func:`stats_hour_key`, :func:`stats_day_key`;
  ``__stats__|routed``: the highest input offset counted per input partition for the
  routing-stage tallies, :data:`STATS_ROUTED_MARKS_KEY` (:mod:`app.stream.figures`).
- ``__changelog_next__``: the changelog offset the store holds, :data:`CHANGELOG_NEXT_KEY`;
  written by the RocksDB store with every write batch, never to the changelog
  (:mod:`app.runtime.rocks`).

An account id is client input and may contain ``|``, the separator of a key's parts: the
consent key of the account ``a|history`` would be the ``history`` key of the account ``a``
(likewise ``|replies`` and ``|suppressed``), and one would overwrite the other (a STOP lost).
So a key holds :func:`key_account` of the account: the id itself, or ``sha256:<hex>`` of an id
that contains ``|`` (as over-long ids are already bounded, :func:`schemas.inbound.bounded_id`).
Keys of accounts without ``|`` are as they always were.
"""

from __future__ import annotations

import hashlib as _hashlib

GLOBAL_ACCOUNT = "*"  # the account of every consent key in global scope (OPTOUT_SCOPE=global)
CONSENT_PREFIX = b"+"  # consent keys (and the other per-number keys) start with the E.164 number
BOOKKEEPING_PREFIX = b"__"  # written last in a checkpoint

CONFIGS_KEY = b"keywords|configs"
REVIEW_INDEX_KEY = b"reviews|pending"
ORIGINS_KEY = b"__origins__"
STATS_TOTALS_KEY = b"__stats__"
STATS_ROUTED_MARKS_KEY = b"__stats__|routed"
CHANGELOG_NEXT_KEY = b"__changelog_next__"


# ------------------------------------------------------------ per number and account


def key_account(account_id: str) -> str:
    """The account as keys hold it: never containing ``|`` (see the module's docstring)."""
    if "|" not in account_id:
        return account_id
    return "sha256:" + _hashlib.sha256(account_id.encode("utf-8", "surrogatepass")).hexdigest()


def consent_key(number: str, account_id: str) -> bytes:
    """The consent state's key: E.164 first (never contains ``|``), then the account."""
    return f"{number}|{key_account(account_id)}".encode()


def replies_key(number: str, account_id: str) -> bytes:
    """The message ids of recent HELP / review replies (not a consent state)."""
    return f"{number}|{key_account(account_id)}|replies".encode()


def history_key(number: str, account_id: str) -> bytes:
    """The consent timeline's counters (its entries are in :func:`slot_key` keys)."""
    return f"{number}|{key_account(account_id)}|history".encode()


def suppressed_key(number: str, account_id: str) -> bytes:
    """The count of sends suppressed since the latest opt-out."""
    return f"{number}|{key_account(account_id)}|suppressed".encode()


def parse_history_key(key: bytes) -> tuple[str, str] | None:
    """``(number, key account)`` of a :func:`history_key`; None for any other key."""
    if not key.startswith(CONSENT_PREFIX) or not key.endswith(b"|history"):
        return None
    number, sep, account = key[: -len(b"|history")].decode("utf-8", "replace").partition("|")
    return (number, account) if sep and "|" not in account else None


# ------------------------------------------------------------ per partition


def slot_key(number: str, account_id: str, slot: int) -> bytes:
    """A timeline entry's key: outside the ``+...`` consent keys, which listings read in order."""
    return f"history|{number}|{key_account(account_id)}|{slot:04d}".encode()


def config_key(config_id: str) -> bytes:
    """A keyword configuration's key (its id is ``cfg-<hex>``: never ``configs``)."""
    return f"keywords|{config_id}".encode()


def review_item_key(review_id: str) -> bytes:
    return f"review|{review_id}".encode()


# ------------------------------------------------------------ bookkeeping


def stats_minute_key(slot: int) -> bytes:
    return b"__stats__|m|%d" % slot


def stats_hour_key(slot: int) -> bytes:
    return b"__stats__|h|%d" % slot


def stats_day_key(slot: int) -> bytes:
    return b"__stats__|d|%d" % slot


def is_bookkeeping(key: bytes) -> bool:
    return key.startswith(BOOKKEEPING_PREFIX)
