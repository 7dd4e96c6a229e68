"""`GET /optouts/{number}/history?account=&as_of=`: a number's consent timeline.

The current state, every consent event of the number and account, oldest first (event
time), with where each record is in ``sms.consent``, and the sends suppressed since the
latest opt-out (:mod:`app.stream.timeline`). Read from the number's table partition (point
reads of three keys; the consent log is never scanned). Any worker answers: one that
does not hold the partition forwards the request to the one that does, as the lookup
does (a worker's proof, no client token: :mod:`app.runtime.web.access`). Needs the viewer
(or admin) token; every answer is audited (1 number), by the worker that holds the number
and answers.

``as_of`` (ISO 8601 with a time zone offset, from 2000 to a day from now) answers the
state as of that time, in event time (:mod:`app.stream.timeline`), with the events dated up to
then.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from app.domain.numbers import NumberStatus, parse_recipient
from app.runtime.web import access, workers
from app.runtime.web.access import Grant, Role
from app.runtime.web.errors import account_param, error_response, json_answer
from app.stream import timeline
from app.stream.keys import suppressed_key

if TYPE_CHECKING:
    from app.runtime.host import Host

MAX_TIME_CHARS = 64
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


class BadTime(ValueError):
    pass


def parse_time(text: str, name: str, now: datetime | None = None) -> datetime:
    """An ISO 8601 date-time with an offset, from 2000 to a day from now; raises :class:`BadTime`."""
    if len(text) > MAX_TIME_CHARS:
        raise BadTime(f"{name} is too long")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadTime(f"{name} must be an ISO 8601 date-time with a time zone, e.g. 2026-03-01T00:00:00Z") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise BadTime(f"{name} must carry a time zone (Z or +hh:mm)")
    latest = (now or datetime.now(UTC)) + timedelta(days=1)
    if not EARLIEST <= moment <= latest:
        raise BadTime(f"{name} must be between 2000-01-01 and a day from now")
    return moment


def read_timeline(host: Host, table: Any, number: str, account_id: str, as_of: datetime | None) -> dict:
    """The timeline answer from a partition's state (its overlay, then its store)."""
    decider = host.decider
    state = decider.lookup(table, number, account_id)
    key_account = decider.state_account(account_id)
    history = timeline.read_history(table.get, number, key_account)
    suppressed = table.get(suppressed_key(number, key_account))
    return timeline.answer(number, account_id, state.to_json() if state else None, history, suppressed, as_of,
                           scope=host.settings.scope)


def register(app: web.Application, host: Host) -> None:
    settings = host.settings

    @access.requires(settings, Role.VIEWER)
    async def history(request: web.Request, found: Grant) -> web.Response:
        parsed = parse_recipient(request.match_info["number"], settings.default_region)
        if parsed.status in (NumberStatus.MISSING, NumberStatus.UNPARSEABLE):
            return error_response(400, "invalid_number", "the number cannot be read as a phone number")
        account_id = account_param(request.query, "default")
        as_of_text = request.query.get("as_of")
        as_of = None
        if as_of_text is not None:
            try:
                as_of = parse_time(as_of_text, "as_of")
            except BadTime as exc:
                return error_response(400, "invalid_as_of", str(exc))
        e164 = parsed.e164
        assert e164 is not None
        path = f"/optouts/{e164}/history"
        params = {"account": account_id, **({"as_of": as_of.isoformat()} if as_of else {})}
        table, answer = await access.at_owner(host, request, found, e164, lambda owner: workers.forward(
            owner, path, params, access.forward_headers(settings, found, "GET", path)))
        if answer is not None:
            return answer
        body = read_timeline(host, table, e164, account_id, as_of)
        if not await access.audit(host, request, found, 1):
            return access.audit_failed()
        return json_answer(body)

    app.router.add_get("/optouts/{number}/history", history)
