"""`GET /optouts` (a page of opted-out numbers) and `GET /optouts.csv` (all of them, streamed).

Both cover every partition on every worker, in the order ``(partition, key)``: a worker
reads the partitions it holds from its store, a few hundred keys at a time
(:func:`app.reports.optout_listing.scan_chunk`), resting between reads so that one listing takes at
most ``listing_max_share`` (default 25 %) of the event loop's time: the engine in the
same process keeps deciding sends between any two reads. The export's CSV is formatted in a
worker thread (:func:`asyncio.to_thread`), never on the event loop. It asks the worker holding
any other partition for it (``access.forward_headers``; a forwarded request answers one
partition, the one its cursor names). A partition that is not available anywhere is a
503 (the listing), never a partial page; the export checks every partition has a
holder before it starts, waits for one that moves while it runs, and if one stays away
it breaks the connection rather than ending the file as if it were complete.

At most :data:`MAX_AT_ONCE` listing pages, exports and period evidence packets
(:mod:`app.runtime.web.evidence_api`) run at once on a worker (:data:`SLOTS`; requests
forwarded by other workers have as many slots of their own); beyond, the answer is a 429
with ``Retry-After``.

Viewer token; numbers masked to their last 4 digits unless the admin asks ``mask=0``.
Cursors are sealed with the workers' cursor key (``host.cluster_keys.key("cursor")``, from
``OPTOUT_CLUSTER_SECRET``), never with a key a token holder could derive. Every answer is
audited with the count of numbers it returned. The export is audited twice: a *started*
record (who, the filters) acknowledged by the broker **before the first byte** (if it is
not, the answer is a JSON 503 and nothing is streamed), and an *ended* record with the
count of rows sent, saying whether the file was complete or the client went away (if that
one cannot be written, the file is cut short). Both read the *stored* state: a change
shows once its checkpoint is stored (~100 ms).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from app.records import Output, dumps
from app.reports.optout_listing import (
    CHUNK_KEYS,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_SCANNED_PER_PAGE,
    BadParameter,
    Cursor,
    Filters,
    csv_header,
    csv_rows,
    decode_cursor,
    parse_filters,
    parse_limit,
    parse_mask,
    scan_chunk,
    shown,
)
from app.runtime.web import access, workers
from app.runtime.web.access import Grant, Role
from app.runtime.web.errors import error_response, json_answer

if TYPE_CHECKING:
    from app.runtime.host import Host

log = logging.getLogger("app.runtime.web")

FILTERS = ("account", "source", "since", "until")
MAX_EXPORT_ROWS = 100_000_000
EXPORT_WAIT_S = 30.0  # how long the export waits for a partition that moved to be served again
FORWARD_TIMEOUT_S = 15.0
LATE_S = 0.002  # a rest that ends later than this: the event loop is busy
BACK_OFF = 4.0  # ... then rest this many times as long again
MAX_BACK_OFF_S = 0.05
MAX_AT_ONCE = 2  # listing pages, exports and period evidence packets at once on a worker (per kind of caller)
RETRY_AFTER_S = 5  # the 429's Retry-After


class Unavailable(Exception):
    """A partition is held by no worker that answers now."""


class PeerBusy(Unavailable):
    """The worker holding the partition has no slot free now (its 429)."""


class Slots:
    """How many scans run at once on this worker (the whole process: listing pages, exports
    and period evidence packets together). Clients and other workers (forwarded requests,
    parts of a scan another worker runs) have :data:`MAX_AT_ONCE` each, so neither can starve
    the other and two workers asking each other never wait on each other: a request beyond
    the limit is refused at once (429), never queued."""

    def __init__(self) -> None:
        self.running = {False: 0, True: 0}  # forwarded? -> scans running

    @contextlib.contextmanager
    def taken(self, found: Grant) -> Iterator[bool]:
        """A slot for ``found``'s request while the block runs: True; False if none is free."""
        kind = found.forwarded
        if self.running[kind] >= MAX_AT_ONCE:
            yield False
            return
        self.running[kind] += 1
        try:
            yield True
        finally:
            self.running[kind] -= 1


SLOTS = Slots()  # one per worker (process)


def too_busy() -> web.Response:
    return error_response(429, "too_busy", f"at most {MAX_AT_ONCE} listings, exports and period evidence packets "
                          f"run at once on a worker; try again in {RETRY_AFTER_S} s",
                          headers={"Retry-After": str(RETRY_AFTER_S)})


@dataclass(slots=True)
class Page:
    entries: list[dict]  # as shown to the caller (masked or not)
    after: bytes | None  # where the partition goes on
    done: bool  # the partition has nothing after the entries
    scanned: int


def _bad(exc: BadParameter) -> web.Response:
    return error_response(400, exc.code, exc.detail)


def register(app: web.Application, host: Host) -> None:
    settings = host.settings
    partitions = settings.partitions

    def secret() -> bytes:
        """The key cursors are sealed with: the cluster's (every worker with the same
        OPTOUT_CLUSTER_SECRET has it, so any of them opens another's cursors; no client does)."""
        return host.cluster_keys.key("cursor")

    async def rest(busy_s: float) -> None:
        """The engine loop's turn after ``busy_s`` of work: a rest long enough that a listing
        takes at most ``listing_max_share`` of the loop's time (at least one turn). Waking up
        late means the loop had other work (or the machine is short of CPU): the listing then
        rests longer still, so it backs off when sends need the worker most."""
        share = settings.listing_max_share
        pause = busy_s * (1 - share) / share if share < 1 else 0.0
        began = time.perf_counter()
        await asyncio.sleep(pause)
        late = time.perf_counter() - began - pause
        if late > LATE_S:
            await asyncio.sleep(min(BACK_OFF * late, MAX_BACK_OFF_S))

    async def local_page(partition: int, after: bytes | None, filters: Filters, want: int, budget: int,
                         masked: bool) -> Page | None:
        """Read the partition here, chunk by chunk; None if this worker does not hold it."""
        entries: list[dict] = []
        scanned = 0
        while True:
            state = host.local_state(partition)
            if state is None:
                if scanned == 0:
                    return None
                raise Unavailable  # moved while it was read: the caller asks again from a cursor
            began = time.perf_counter()
            try:
                chunk = scan_chunk(state.store, after, filters, want - len(entries))
            except Exception as exc:  # noqa: BLE001 - the store was closed meanwhile (a rebalance)
                raise Unavailable from exc
            entries += [shown(e, masked) for e in chunk.entries]
            scanned += chunk.scanned
            after = chunk.last_key
            await rest(time.perf_counter() - began)
            if chunk.exhausted or len(entries) >= want or scanned >= budget:
                return Page(entries, after, chunk.exhausted, scanned)

    async def remote_page(session: aiohttp.ClientSession, found: Grant, query: Mapping[str, str], partition: int,
                          after: bytes | None, filters: Filters, want: int, masked: bool) -> Page:
        owner = host.ownership.owners.get(partition)
        if owner is None or owner == settings.web_url or found.forwarded:
            raise Unavailable
        params = {k: query[k] for k in FILTERS if k in query}
        params.update(limit=str(want), cursor=Cursor(partition, after).encode(filters, secret()),
                      mask="1" if masked else "0")
        headers = access.forward_headers(settings, found, "GET", "/optouts")
        try:
            answer = await workers.ask(session, owner, "/optouts", params, headers)
            if answer.status == 429:
                raise PeerBusy
            if answer.status != 200:
                raise Unavailable
            body = answer.json()
            items, next_cursor, scanned = body["items"], body["next_cursor"], int(body["scanned"])
            if not isinstance(items, list) or len(items) > want or not all(isinstance(i, dict) for i in items):
                raise Unavailable
            if next_cursor is None:
                return Page(items, None, True, scanned)
            moved = decode_cursor(next_cursor, filters, partitions, secret())
        except workers.NoClusterSecret:
            raise
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as exc:
            raise Unavailable from exc
        if moved.partition != partition or moved.after is None or (after is not None and moved.after <= after):
            raise Unavailable  # an answer that does not go forward
        return Page(items, moved.after, False, max(scanned, 1))

    async def page_of(sessions: _Sessions, found: Grant, query: Mapping[str, str], cursor: Cursor,
                      filters: Filters, want: int, budget: int, masked: bool) -> Page:
        page = await local_page(cursor.partition, cursor.after, filters, want, budget, masked)
        if page is not None:
            return page
        return await remote_page(sessions.get(), found, query, cursor.partition, cursor.after, filters, want, masked)

    def parameters(request: web.Request, found: Grant,
                   most: int) -> tuple[Filters, int, bool, Cursor | None] | web.Response:
        query = request.query
        try:
            filters = parse_filters(query)
            limit = parse_limit(query["limit"], most) if "limit" in query else most
            masked = parse_mask(query.get("mask"))
            cursor = decode_cursor(query["cursor"], filters, partitions, secret()) if "cursor" in query else None
        except BadParameter as exc:
            return _bad(exc)
        if not masked and found.role is not Role.ADMIN:
            return error_response(403, "forbidden", "mask=0 needs the admin token")
        return filters, limit, masked, cursor

    @access.requires(settings, Role.VIEWER)
    async def listing(request: web.Request, found: Grant) -> web.Response:
        asked = parameters(request, found, MAX_LIMIT)
        if isinstance(asked, web.Response):
            return asked
        with SLOTS.taken(found) as free:
            if not free:
                return too_busy()
            return await listing_page(request, found, *asked)

    async def listing_page(request: web.Request, found: Grant, filters: Filters, limit: int, masked: bool,
                           cursor: Cursor | None) -> web.Response:
        if "limit" not in request.query:
            limit = DEFAULT_LIMIT
        if found.forwarded:  # another worker asks for one partition: the one its cursor names
            if cursor is None:
                return _bad(BadParameter("invalid_cursor", "a forwarded listing names its partition by a cursor"))
            try:
                page = await local_page(cursor.partition, cursor.after, filters, limit, MAX_SCANNED_PER_PAGE, masked)
            except Unavailable:
                page = None
            if page is None:
                return error_response(503, "unavailable", "the partition is not held here now")
            return json_answer({"items": page.entries, "scanned": page.scanned,
                                "next_cursor": None if page.done else Cursor(cursor.partition, page.after).encode(
                                    filters, secret())})
        items: list[dict] = []
        position: Cursor | None = cursor or Cursor(0)
        budget = MAX_SCANNED_PER_PAGE
        async with _Sessions() as sessions:
            while position is not None and len(items) < limit and budget > 0:
                try:
                    page = await page_of(sessions, found, request.query, position, filters, limit - len(items),
                                         budget, masked)
                except PeerBusy:
                    return too_busy()
                except workers.NoClusterSecret:
                    return workers.secret_missing()
                except Unavailable:
                    return error_response(503, "unavailable", f"partition {position.partition} is not available on "
                                          "any worker now (a rebalance?); ask again with the same cursor")
                items += page.entries
                budget -= page.scanned
                position = _next(position.partition, page, partitions)
        if not await access.audit(host, request, found, len(items)):
            return access.audit_failed()
        return json_answer({"items": items, "next_cursor": position.encode(filters, secret()) if position else None,
                            "masked": masked, "count": len(items)})

    @access.requires(settings, Role.VIEWER)
    async def export(request: web.Request, found: Grant) -> web.StreamResponse:
        asked = parameters(request, found, MAX_EXPORT_ROWS)
        if isinstance(asked, web.Response):
            return asked
        missing = [p for p in range(partitions) if host.local_state(p) is None
                   and host.ownership.owners.get(p) in (None, settings.web_url)]
        if missing:
            return error_response(503, "unavailable", f"partitions {missing} are not available on any worker now "
                                  "(a rebalance?); try again")
        with SLOTS.taken(found) as free:
            if not free:
                return too_busy()
            return await stream_export(request, found, *asked)

    async def stream_export(request: web.Request, found: Grant, filters: Filters, most: int, masked: bool,
                            cursor: Cursor | None) -> web.StreamResponse:
        """The CSV (``most``: at most this many rows, default all), between its two audit records."""
        started = {"phase": "started", "filters": filters.described(), "masked": masked,
                   "limit": most if "limit" in request.query else None,
                   "from_cursor": cursor is not None}
        if not await _export_audit(host, request, found, 0, 200, started):
            return access.audit_failed()  # nothing sent: no row leaves before its audit record
        count, status = 0, 503
        resp = web.StreamResponse(headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="optouts.csv"',
            "Cache-Control": "no-store",
        })
        try:
            await resp.prepare(request)
            await resp.write(csv_header().encode())
            position: Cursor | None = cursor or Cursor(0)
            async with _Sessions() as sessions:
                while position is not None and count < most:
                    here = host.local_state(position.partition) is not None  # then a chunk at a time
                    page = await _patiently(page_of, sessions, found, request.query, position, filters,
                                            min(CHUNK_KEYS if here else MAX_LIMIT, most - count),
                                            MAX_SCANNED_PER_PAGE, masked)
                    if page.entries:
                        await resp.write(await asyncio.to_thread(_csv_bytes, page.entries))  # off the event loop
                    count += len(page.entries)
                    position = _next(position.partition, page, partitions)
            status = 200
        except (Unavailable, workers.NoClusterSecret) as exc:
            log.warning("export cut short after %d entries: a partition is not available on any worker%s", count,
                        " (OPTOUT_CLUSTER_SECRET is not set)" if isinstance(exc, workers.NoClusterSecret) else "")
        except (ConnectionError, asyncio.CancelledError):
            status = 499  # the client went away: what it was sent is recorded all the same
            raise
        finally:
            ended = {"phase": "ended", "filters": filters.described(), "masked": masked, "rows_sent": count,
                     "complete": status == 200, "client_went_away": status == 499}
            recorded = await _shielded(_export_audit(host, request, found, count, status, ended))
        if status == 200 and recorded:
            await resp.write_eof()
            return resp
        if status == 200:
            log.warning("export cut short: its closing audit record was not acknowledged")
        raise ConnectionResetError("export incomplete")  # the connection breaks: the file is not complete

    app.router.add_get("/optouts", listing, allow_head=False)
    app.router.add_get("/optouts.csv", export, allow_head=False)


def _csv_bytes(entries: list[dict]) -> bytes:
    return csv_rows(entries).encode()


def _next(partition: int, page: Page, partitions: int) -> Cursor | None:
    if not page.done:
        return Cursor(partition, page.after)
    return Cursor(partition + 1) if partition + 1 < partitions else None


async def _patiently(page_of: Any, *args: Any) -> Page:
    """A page, waiting up to ``EXPORT_WAIT_S`` for a partition that is moving between workers
    (or whose worker is busy)."""
    deadline = time.monotonic() + EXPORT_WAIT_S
    while True:
        try:
            return await page_of(*args)
        except Unavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def _export_audit(host: Host, request: web.Request, found: Grant, rows: int, status: int,
                        export: dict) -> bool:
    """An audit record of the export (:func:`access.audit_record`, with what the export is
    and how far it went under ``export``), published as :func:`access.audit` publishes: True
    once the broker acknowledged it. Written for every caller: no worker forwards an export,
    so a request claiming to be forwarded is recorded too."""
    record = {**access.audit_record(host.worker_id, request, found, rows, status), "export": export}
    try:
        await host.publish(Output(host.settings.audit_topic, dumps(record), key=found.token_id.encode()))
    except Exception as exc:  # noqa: BLE001 - any failure: no record
        log.warning("export audit record (%s) not acknowledged by the broker (%s)", export["phase"],
                    type(exc).__name__)
        return False
    return True


async def _shielded(audit: Any) -> bool:
    """An audit record, written even if the request is being cancelled (the client went away)."""
    task = asyncio.ensure_future(audit)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        return False


class _Sessions:
    """One HTTP client session per request, made only if another worker must be asked."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=FORWARD_TIMEOUT_S))
        return self._session

    async def __aenter__(self) -> _Sessions:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
