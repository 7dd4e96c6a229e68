"""`GET /health`, `GET /optouts/{number}` (`GET /stats` is in :mod:`app.runtime.web.stats_api`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from app.domain.numbers import NumberStatus, parse_recipient
from app.runtime.web import access
from app.runtime.web.access import FORWARDED, Role
from app.runtime.web.errors import dumps, error_response
from schemas.inbound import MAX_ACCOUNT_CHARS, bounded_id

if TYPE_CHECKING:
    from app.runtime.host import Host

__all__ = ["FORWARDED", "json_answer", "register"]


def json_answer(value: object, status: int = 200) -> web.Response:
    return web.json_response(value, status=status, dumps=dumps)


def register(app: web.Application, host: Host) -> None:
    settings = host.settings

    async def health(request: web.Request) -> web.Response:
        report = host.health()
        if report["ready"]:
            return json_answer({"status": "ok", **report})
        return json_answer({"status": "not_ready", **report}, status=503)

    async def lookup(request: web.Request) -> web.Response:
        found = access.grant(request, settings, Role.VIEWER)
        if isinstance(found, web.Response):
            return found
        # read as a send's recipient is: the state of the number a send to it would reach
        parsed = parse_recipient(request.match_info["number"], settings.default_region)
        if parsed.status in (NumberStatus.MISSING, NumberStatus.UNPARSEABLE):
            return error_response(400, "invalid_number", parsed.error)
        account_id = request.query.get("account", "default")
        if not account_id:
            return error_response(400, "invalid_account", "account must not be empty")
        account_id = bounded_id(account_id, MAX_ACCOUNT_CHARS)  # as replies and sends are keyed
        e164 = parsed.e164
        assert e164 is not None
        path = f"/optouts/{e164}"
        state_view, answer = await access.at_owner(host, request, found, e164, lambda owner: _forward(
            owner, path, account_id, access.forward_headers(settings, found, "GET", path)))
        if answer is not None:
            return answer
        state = host.decider.lookup(state_view, e164, account_id)
        body = {
            "number": e164,
            "account_id": account_id,
            "opted_out": bool(state and state.opted_out),
            "changed_at": state.changed_at.isoformat() if state else None,
            "scope": settings.scope,
        }
        if state is not None:
            body.update(source=state.source.value, rule=state.rule, matched=state.matched, message_id=state.message_id)
        if not await access.audit(host, request, found, 1):
            return access.audit_failed()
        return json_answer(body)

    app.router.add_get("/health", health)
    app.router.add_get("/optouts/{number}", lookup)


async def _forward(owner: str, path: str, account_id: str, headers: dict[str, str]) -> web.Response:
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session, \
                session.get(f"{owner}{path}", params={"account": account_id}, headers=headers) as resp:
            return json_answer(await resp.json(), status=resp.status)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return error_response(503, "unavailable",
                              f"the worker holding this number did not answer ({type(exc).__name__})")
