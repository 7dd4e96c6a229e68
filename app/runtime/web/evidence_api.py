"""`GET /evidence?number=&account=` and `GET /evidence?since=&until=[&account=]`: the
evidence packet, a zip (:mod:`app.reports.evidence_packet`; docs/evidence.md).

- **A number**: its timeline for the account (``account``, default ``default``), read from
  its table partition; a worker that does not hold it forwards the request to the one that
  does (which makes the zip) and passes the zip on. Viewer (or admin) token: the caller
  names the number, and gets that number's packet, as the lookup and the history answer it.
- **A period** (``since`` <= event time < ``until``, ISO 8601 with a time zone, at most
  :data:`MAX_PERIOD_DAYS` days): every number (of ``account``, or of every account) with a
  consent event dated in the period, with those events. **Admin token only** (a viewer gets
  a 403): the packet holds up to :data:`MAX_NUMBERS` whole numbers, and whole numbers in bulk
  are the admin's (as ``GET /optouts?mask=0``); a masked packet would not be evidence (its
  numbers could not be tied to the consent log). Each worker scans the timeline keys
  of the partitions it holds (:meth:`app.engine.ports.StorePort.scan`, :data:`CHUNK_KEYS` keys
  per read, resting between reads so the scan takes at most ``OPTOUT_LISTING_MAX_SHARE`` of
  the event loop's time, so processing goes on), the one asked
  gathers the others' parts; a partition nobody can read makes the answer 503, never a
  partial packet. More than :data:`MAX_NUMBERS` numbers is a 413: ask for a shorter period
  or one account. A period packet takes one of the worker's scan slots
  (:data:`app.runtime.web.optouts_api.SLOTS`, shared with the listings and exports): beyond
  them, a 429 with ``Retry-After``.

Every zip is built in a worker thread (:func:`asyncio.to_thread`), never on the event loop,
and so are the JSON parts workers send each other for a period. Audited with the number of
numbers in the packet; no packet without its audit record (503).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from aiohttp import web

from app.domain.numbers import NumberStatus, parse_recipient
from app.intake.policy_file import PolicyFileError, load_policy
from app.reports import evidence_packet
from app.runtime.web import access, workers
from app.runtime.web.access import Grant, Role
from app.runtime.web.errors import account_param, error_response
from app.runtime.web.optouts_api import SLOTS, too_busy
from app.runtime.web.timeline_api import BadTime, parse_time, read_timeline
from app.stream import timeline
from app.stream.keys import CONSENT_PREFIX, parse_history_key, suppressed_key

if TYPE_CHECKING:
    from app.runtime.host import Host

MAX_PERIOD_DAYS = 366
MAX_NUMBERS = 5_000  # timelines in one packet
MAX_EVENTS = 50_000  # events in one packet (an event is ~0.5 KB of JSON; at most 4.4 KB)
CHUNK_KEYS = 256
_rebuilt: dict[str, dict[str, dict] | None] = {}  # config id -> its keyword sets (None: cannot be rebuilt)


class TooMany(Exception):
    pass


class Moved(Exception):
    """A partition was revoked (or is recovering again) while it was read."""


class PeerBusy(Exception):
    """A worker asked for its part of a period had no scan slot free (its 429)."""


def _keyword_sets_of(config: dict) -> dict[str, dict] | None:
    """The keyword sets a recorded configuration makes with the running code (cached)."""
    cid = config["config_id"]
    if cid in _rebuilt:
        return _rebuilt[cid]
    sets = None
    if config.get("file") is None:
        try:
            sets = evidence_packet.keyword_sets(load_policy(None, config["default_locales"]))
        except PolicyFileError:
            sets = None
    elif config.get("text") is not None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "keywords.toml"
            path.write_text(config["text"], encoding="utf-8")
            try:
                sets = evidence_packet.keyword_sets(load_policy(path, config["default_locales"]))
            except PolicyFileError:
                sets = None
    if len(_rebuilt) >= timeline.MAX_CONFIGS * 2:
        _rebuilt.clear()
    _rebuilt[cid] = sets
    return sets


class Gathered:
    """Timelines gathered for a packet, within its bounds."""

    def __init__(self) -> None:
        self.timelines: list[dict] = []
        self.events = 0

    def add(self, line: dict) -> None:
        self.events += len(line["events"])
        self.timelines.append(line)
        if len(self.timelines) > MAX_NUMBERS or self.events > MAX_EVENTS:
            raise TooMany()


async def _scan_partition(host: Host, partition: int, account: str | None, since: datetime, until: datetime,
                          found: Gathered) -> None:
    """The timelines of the partition's numbers with events in the period, added to ``found``.
    Read chunk by chunk, resting between chunks so that the scan takes at most
    ``OPTOUT_LISTING_MAX_SHARE`` of the event loop's time (as the listings do)."""
    key_account = host.decider.state_account(account) if account is not None else None
    share = float(getattr(host.settings, "listing_max_share", 0.25))
    after = None
    while True:
        table = host.local_state(partition)
        if table is None:
            raise Moved()
        began = time.perf_counter()
        pairs = table.store.scan(after, CHUNK_KEYS, CONSENT_PREFIX)
        for key, _ in pairs:
            found_key = parse_history_key(key)
            if found_key is None:
                continue
            number, owner_account = found_key
            if key_account is not None and owner_account != key_account:
                continue
            history = timeline.read_history(table.get, number, owner_account) or {}
            events = evidence_packet.in_period(history.get("events") or (), since, until)
            if not events:
                continue
            state = host.decider.lookup(table, number, owner_account)
            suppressed = table.get(suppressed_key(number, owner_account))
            found.add(timeline.answer(number, account or owner_account, state.to_json() if state else None,
                                         {**history, "events": events}, suppressed, None,
                                         scope=host.settings.scope))
        if len(pairs) < CHUNK_KEYS:
            return
        after = pairs[-1][0]
        busy = time.perf_counter() - began
        await asyncio.sleep(busy * (1 - share) / share if share < 1 else 0)  # processing goes on meanwhile


def _configs(table: Any) -> list[dict]:
    return timeline.remembered_configs(table)


def register(app: web.Application, host: Host) -> None:
    settings = host.settings

    cache: dict[str, dict[str, dict]] = {}

    def running_sets(config_id: str, policy: Any) -> dict[str, dict]:
        """The running policy's keyword sets, made once (by whichever thread builds a zip first)."""
        sets = cache.get(config_id)
        if sets is None:
            sets = evidence_packet.keyword_sets(policy)
            cache.clear()
            cache[config_id] = sets
        return sets

    def build_zip(request: dict, timelines: list[dict], configs: list[dict], running_config: dict,
                  policy: Any) -> bytes:
        """The zip (in a worker thread: it reads nothing the engine writes)."""
        running = (running_config, running_sets(running_config["config_id"], policy))
        seen = {running_config["config_id"]}
        recorded = []
        for config in configs:
            if config["config_id"] not in seen:
                seen.add(config["config_id"])
                recorded.append((config, _keyword_sets_of(config)))
        keywords = evidence_packet.resolve_keywords(evidence_packet.keyword_ids(timelines), running, recorded)
        return evidence_packet.packet(request, timelines, keywords, running_config,
                                      evidence_packet.settings_view(settings),
                                      datetime.now(UTC), host.worker_id)

    async def make_zip(request: dict, timelines: list[dict], configs: list[dict]) -> bytes:
        """The zip, built off the event loop (at the period bounds it takes most of a second)."""
        return await asyncio.to_thread(build_zip, request, timelines, configs, host.decider.keyword_config,
                                       host.decider.policy)

    def zip_answer(data: bytes) -> web.Response:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return web.Response(body=data, content_type="application/zip",
                            headers={"Content-Disposition": f'attachment; filename="evidence-{stamp}.zip"'})

    async def of_number(request: web.Request, found: Grant, raw_number: str, account_id: str) -> web.Response:
        parsed = parse_recipient(raw_number, settings.default_region)
        if parsed.status in (NumberStatus.MISSING, NumberStatus.UNPARSEABLE):
            return error_response(400, "invalid_number", "number cannot be read as a phone number")
        e164 = parsed.e164
        assert e164 is not None
        table, answer = await access.at_owner(host, request, found, e164, lambda owner: workers.forward(
            owner, "/evidence", {"number": e164, "account": account_id},
            access.forward_headers(settings, found, "GET", "/evidence"), timeout_s=30, download="application/zip"))
        if answer is not None:
            return answer
        line = read_timeline(host, table, e164, account_id, None)
        data = await make_zip({"number": e164, "account": account_id}, [line], _configs(table))
        if not await access.audit(host, request, found, 1):
            return access.audit_failed()
        return zip_answer(data)

    async def of_period(request: web.Request, found: Grant, since: datetime, until: datetime,
                        account: str | None) -> web.Response:
        gathered = Gathered()
        configs: list[dict] = []
        covered: list[int] = []
        try:
            for partition in range(settings.partitions):
                table = host.local_state(partition)
                if table is None:
                    continue
                await _scan_partition(host, partition, account, since, until, gathered)
                configs += _configs(table)
                covered.append(partition)
        except Moved:
            return error_response(503, "unavailable", "a partition moved to another worker while it was read; "
                                  "try again")
        except TooMany:
            if found.forwarded:
                return await _part_answer({"too_many": True, "timelines": [], "configs": [], "partitions": covered})
            return _too_many()
        if found.forwarded:
            return await _part_answer({"too_many": False, "timelines": gathered.timelines, "configs": configs,
                                       "partitions": covered})
        others = workers.others(host, covered)
        params = {"since": since.isoformat(), "until": until.isoformat(), **({"account": account} if account else {})}
        headers = access.forward_headers(settings, found, "GET", "/evidence")
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
                parts = await asyncio.gather(*(_ask(session, url, params, headers) for url in sorted(others)))
        except PeerBusy:
            return too_busy()
        except workers.NoClusterSecret:
            return workers.secret_missing()
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
            return error_response(503, "unavailable", f"a worker holding timelines did not answer "
                                  f"({type(exc).__name__})")
        try:
            for part in parts:
                if part.get("too_many"):
                    raise TooMany()
                for line in part["timelines"]:
                    gathered.add(line)
                configs += part["configs"]
                covered += part["partitions"]
        except TooMany:
            return _too_many()
        if (refused := workers.uncovered(settings, covered)) is not None:
            return refused
        timelines = gathered.timelines
        timelines.sort(key=lambda t: (t["number"], t["account_id"]))
        data = await make_zip({"since": since.isoformat(), "until": until.isoformat(), "account": account},
                              timelines, configs)
        if not await access.audit(host, request, found, len(timelines)):
            return access.audit_failed()
        return zip_answer(data)

    @access.requires(settings, Role.VIEWER)
    async def packet(request: web.Request, found: Grant) -> web.Response:
        query = request.query
        account = account_param(query, None)
        number = query.get("number")
        period = "since" in query or "until" in query
        if (number is None) == (not period):
            return error_response(400, "invalid_request", "ask for number= (with account=) or for since= and until=")
        if number is not None:
            return await of_number(request, found, number, account or "default")
        if found.role is not Role.ADMIN:  # whole numbers in bulk: the admin's only
            return error_response(403, "forbidden", "a period's evidence packet holds whole numbers: it needs the "
                                  "admin token (a viewer asks for one number's packet)")
        try:
            since = parse_time(query.get("since", ""), "since")
            until = parse_time(query.get("until", ""), "until")
        except BadTime as exc:
            return error_response(400, "invalid_period", str(exc))
        if since >= until:
            return error_response(400, "invalid_period", "since must be before until")
        if until - since > timedelta(days=MAX_PERIOD_DAYS):
            return error_response(400, "invalid_period", f"a period is at most {MAX_PERIOD_DAYS} days")
        with SLOTS.taken(found) as free:
            if not free:
                return too_busy()
            return await of_period(request, found, since, until, account)

    app.router.add_get("/evidence", packet)


def _too_many() -> web.Response:
    return error_response(413, "too_many_numbers", f"more than {MAX_NUMBERS} numbers or {MAX_EVENTS} events in "
                          "this period: ask for a shorter period, or for one account")


async def _part_answer(part: dict) -> web.Response:
    """A worker's part of a period (up to the packet's bounds), as JSON made off the event loop."""
    body = await asyncio.to_thread(orjson.dumps, part, default=str)
    return web.Response(body=body, content_type="application/json")


async def _ask(session: aiohttp.ClientSession, url: str, params: dict, headers: access.ForwardAs) -> dict:
    answer = await workers.ask(session, url, "/evidence", params, headers)
    if answer.status == 429:
        raise PeerBusy()
    if answer.status != 200:
        raise ValueError(f"status {answer.status}")
    part = await asyncio.to_thread(orjson.loads, answer.body)  # off the event loop
    if not isinstance(part, dict):
        raise ValueError("not a part")
    return part

