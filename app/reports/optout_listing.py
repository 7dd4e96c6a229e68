"""Listing the opted-out numbers of a partition's store (pure: no Kafka, no HTTP).

A listing walks the stored keys of every partition in order, ``(partition, key)``,
a few hundred keys at a time (:func:`scan_chunk`), and keeps the ``<E.164>|<account>``
keys whose consent state is opted out and that pass the :class:`Filters`. Every other
key (``...|replies``, ``...|history``, ``review|...``, ``reviews|...``, ``__...``; the key
space is :mod:`app.stream.keys`) is skipped. The position between pages is a
:class:`Cursor`: a partition and the last key read there, bound to the filters it was
made with, sealed (encrypted and authenticated) since the key holds a whole number. The
seal's key is the caller's: the workers' cursor key (``host.cluster_keys.key("cursor")``,
:mod:`app.runtime.cluster_keys`), derived from the secret the workers share and no client
holds, never from a token (a viewer holds its token: a key derived from it would let a
viewer open cursors, each holding a whole number, and make up positions).

It reads the *stored* state (:meth:`app.engine.ports.StorePort.scan`): a change the
engine made in the last checkpoint interval (~100 ms) shows once it is stored.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import hmac
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import orjson

from app.domain.masking import mask
from app.engine.ports import StorePort
from app.reports.csv_cells import cell
from app.stream.keys import CONSENT_PREFIX, key_account
from schemas.inbound import MAX_ACCOUNT_CHARS, bounded_id

CHUNK_KEYS = 64  # keys read per store call; the caller rests (gives the event loop back) between calls
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_SCANNED_PER_PAGE = 20_000  # keys read for one page at most: a rare filter answers a short page, not a slow one
MAX_CURSOR_CHARS = 1024
MAX_KEY_BYTES = 600  # an E.164 number, "|", an account id of at most 128 characters (UTF-8)
MAX_TIME_CHARS = 64
OPTED_OUT = b'"opted_out":true'  # how a stored opted-out state reads (orjson, compact)
SOURCES = ("keyword", "phrase", "operator", "provider", "review", "review_deadline", "import")
IMPORT_PREFIX = "import:"  # message ids of imported opt-outs (app/intake/import_file.py)
COLUMNS = ("number", "account_id", "opted_out_at", "source", "rule", "matched", "message_id")
CURSOR_VERSION = b"1"
NONCE_BYTES = 12
TAG_BYTES = 16
MIN_KEY_BYTES = 16  # a cursor key shorter than this is a mistake (the cluster keys are 32 bytes)


class BadParameter(ValueError):
    """A query parameter that cannot be used: ``code`` and a fixed text (never the input)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Filters:
    account: str | None = None
    source: str | None = None
    since: datetime | None = None  # opted out at or after
    until: datetime | None = None  # opted out before

    def described(self) -> dict:
        """The filters as the audit records them (JSON)."""
        return {"account": self.account, "source": self.source,
                "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None}

    def digest(self) -> str:
        """What a cursor is bound to: the same filters give the same digest."""
        text = "\x1f".join(["" if v is None else (v.isoformat() if isinstance(v, datetime) else v)
                            for v in (self.account, self.source, self.since, self.until)])
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]

    def admits(self, entry: dict) -> bool:
        if self.account is not None and entry["account_id"] != self.account:
            return False
        if self.source is not None and entry["source"] != self.source:
            return False
        if self.since is None and self.until is None:
            return True
        at = _time(entry["opted_out_at"])
        if at is None:
            return False
        return (self.since is None or at >= self.since) and (self.until is None or at < self.until)


def _time(text: object) -> datetime | None:
    if not isinstance(text, str) or len(text) > MAX_TIME_CHARS:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def parse_time(text: str, name: str) -> datetime:
    value = _time(text)
    if value is None:
        raise BadParameter(f"invalid_{name}", f"{name} must be an ISO 8601 date and time with a timezone, "
                           "e.g. 2026-11-20T00:00:00Z")
    return value


def parse_filters(query: Mapping[str, str]) -> Filters:
    account = query.get("account")
    if account is not None:
        if not account:
            raise BadParameter("invalid_account", "account must not be empty")
        account = key_account(bounded_id(account, MAX_ACCOUNT_CHARS))  # as replies and sends are keyed
    source = query.get("source")
    if source is not None and source not in SOURCES:
        raise BadParameter("invalid_source", f"source must be one of {', '.join(SOURCES)}")
    since = parse_time(query["since"], "since") if "since" in query else None
    until = parse_time(query["until"], "until") if "until" in query else None
    if since is not None and until is not None and since >= until:
        raise BadParameter("invalid_period", "since must be before until")
    return Filters(account, source, since, until)


def parse_limit(text: str | None, most: int = MAX_LIMIT) -> int:
    if text is None:
        return min(DEFAULT_LIMIT, most)
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(most)) or not 1 <= int(text) <= most:
        raise BadParameter("invalid_limit", f"limit must be a whole number from 1 to {most:,}")
    return int(text)


def parse_mask(text: str | None) -> bool:
    """True: numbers masked (the default); ``mask=0`` asks for them whole."""
    if text is None or text == "1":
        return True
    if text == "0":
        return False
    raise BadParameter("invalid_mask", "mask must be 0 or 1")


# ---------------------------------------------------------------- the cursor


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a listing goes on: in ``partition``, after the key ``after`` (None: from its start)."""

    partition: int
    after: bytes | None = None

    def encode(self, filters: Filters, secret: bytes) -> str:
        """Sealed (:func:`seal`): the key holds a whole phone number, which a masked listing must
        not give away, and a client cannot make up a position."""
        raw = b"\x1f".join([CURSOR_VERSION, str(self.partition).encode(), filters.digest().encode(),
                            self.after or b""])
        return base64.urlsafe_b64encode(seal(raw, secret)).rstrip(b"=").decode()


def _checked(secret: bytes) -> bytes:
    if not isinstance(secret, bytes) or len(secret) < MIN_KEY_BYTES:
        raise ValueError(f"a cursor key is at least {MIN_KEY_BYTES} bytes (host.cluster_keys.key('cursor'))")
    return secret


def _keystream(secret: bytes, nonce: bytes, size: int) -> bytes:
    blocks = (hmac.new(secret, b"ks" + nonce + i.to_bytes(4, "big"), hashlib.sha256).digest()
              for i in range((size + 31) // 32))
    return b"".join(blocks)[:size]


def seal(raw: bytes, secret: bytes) -> bytes:
    """``nonce | raw XOR HMAC-SHA256 keystream | tag``: encrypted and authenticated (encrypt-then-MAC)."""
    secret = _checked(secret)
    nonce = os.urandom(NONCE_BYTES)
    body = bytes(a ^ b for a, b in zip(raw, _keystream(secret, nonce, len(raw)), strict=True))
    tag = hmac.new(secret, b"tag" + nonce + body, hashlib.sha256).digest()[:TAG_BYTES]
    return nonce + body + tag


def unseal(sealed: bytes, secret: bytes) -> bytes | None:
    secret = _checked(secret)
    if len(sealed) < NONCE_BYTES + TAG_BYTES:
        return None
    nonce, body, tag = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:-TAG_BYTES], sealed[-TAG_BYTES:]
    if not hmac.compare_digest(tag, hmac.new(secret, b"tag" + nonce + body, hashlib.sha256).digest()[:TAG_BYTES]):
        return None
    return bytes(a ^ b for a, b in zip(body, _keystream(secret, nonce, len(body)), strict=True))


def decode_cursor(text: str, filters: Filters, partitions: int, secret: bytes) -> Cursor:
    """The cursor ``text`` names, checked: a next_cursor a worker sealed with ``secret`` (the
    cluster's cursor key) for these filters and this number of partitions, or :class:`BadParameter`."""
    bad = BadParameter("invalid_cursor", "cursor must be the next_cursor of a previous page with the same filters")
    if not text or len(text) > MAX_CURSOR_CHARS or not text.isascii():
        raise bad
    try:
        sealed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise bad from None
    raw = unseal(sealed, secret)
    if raw is None:
        raise bad
    parts = raw.split(b"\x1f", 3)
    if len(parts) != 4:
        raise bad
    version, partition, digest, after = parts
    if version != CURSOR_VERSION or not partition.isdigit() or len(partition) > 6 or int(partition) >= partitions:
        raise bad
    if digest != filters.digest().encode():
        raise bad
    if after and (not after.startswith(CONSENT_PREFIX) or len(after) > MAX_KEY_BYTES):
        raise bad
    return Cursor(int(partition), after or None)


# ---------------------------------------------------------------- entries


def entry_of(key: bytes, raw: bytes) -> dict | None:
    """The listing entry of a stored pair, if it is an opted-out consent state; else None."""
    if not key.startswith(CONSENT_PREFIX) or OPTED_OUT not in raw:
        return None
    number, sep, account = key.partition(b"|")
    if not sep or not number[1:].isdigit():
        return None
    try:
        state = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(state, dict) or state.get("opted_out") is not True or "last_event_at" not in state:
        return None  # not a consent state (a future key kind whose value says "opted_out")
    message_id = state.get("message_id")
    source = state.get("source") or "keyword"
    if source == "operator" and isinstance(message_id, str) and message_id.startswith(IMPORT_PREFIX):
        source = "import"
    return {
        "number": number.decode(),
        "account_id": account.decode("utf-8", "replace"),
        "opted_out_at": state.get("changed_at"),
        "source": source,
        "rule": state.get("rule"),
        "matched": state.get("matched"),
        "message_id": message_id,
    }



def shown(entry: dict, masked: bool) -> dict:
    return {**entry, "number": mask(entry["number"])} if masked else entry


@dataclass(slots=True)
class Chunk:
    entries: list[dict]
    last_key: bytes | None  # the position after this chunk (the last key taken into account)
    exhausted: bool  # the partition has no key after ``last_key``
    scanned: int  # keys read


def scan_chunk(store: StorePort, after: bytes | None, filters: Filters, want: int,
               size: int = CHUNK_KEYS) -> Chunk:
    """One short read of ``store`` after the key ``after``: at most ``size`` keys, and at most
    ``want`` entries (the position then stops at the last one taken, so the next read
    starts right after it)."""
    pairs = store.scan(after, size, CONSENT_PREFIX)
    entries: list[dict] = []
    last = after
    for key, raw in pairs:
        last = key
        entry = entry_of(key, raw)
        if entry is not None and filters.admits(entry):
            entries.append(entry)
            if len(entries) >= want:
                break
    exhausted = len(pairs) < size and (not pairs or last == pairs[-1][0])
    return Chunk(entries, last, exhausted, len(pairs))


# ---------------------------------------------------------------- CSV




def csv_header() -> str:
    return ",".join(COLUMNS) + "\r\n"


def csv_rows(entries: list[dict]) -> str:
    """``entries`` as CSV lines (RFC 4180 quoting, CRLF). The number keeps its ``+``: it is an
    E.164 number (masked or whole), never a formula a spreadsheet would run."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for entry in entries:
        writer.writerow([entry["number"], *(cell(entry[col]) for col in COLUMNS[1:])])
    return out.getvalue()
