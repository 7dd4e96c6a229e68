"""`GET /health`, `GET /optouts/{number}` (`GET /stats` is in :mod:`app.runtime.web.stats_api`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from app.domain.numbers import NumberStatus, parse_recipient
from app.runtime.web import access, workers
from app.runtime.web.access import FORWARDED, Grant, Role
from app.runtime.web.errors import account_param, error_response, json_answer

if TYPE_CHECKING:
    from app.runtime.host import Host

__all__ = ["FORWARDED", "register"]


def register(app: web.Application, host: Host) -> None:
    settings = host.settings

    async def health(request: web.Request) -> web.Response:
        report = host.health()
        if report["ready"]:
            return json_answer({"status": "ok", **report})
        return json_answer({"status": "not_ready", **report}, status=503)

    @access.requires(settings, Role.VIEWER)
    async def lookup(request: web.Request, found: Grant) -> web.Response:
        # read as a send's recipient is: the state of the number a send to it would reach
        parsed = parse_recipient(request.match_info["number"], settings.default_region)
        if parsed.status in (NumberStatus.MISSING, NumberStatus.UNPARSEABLE):
            return error_response(400, "invalid_number", parsed.error)
        account_id = account_param(request.query, "default")
        e164 = parsed.e164
        assert e164 is not None
        path = f"/optouts/{e164}"
        state_view, answer = await access.at_owner(host, request, found, e164, lambda owner: workers.forward(
            owner, path, {"account": account_id}, access.forward_headers(settings, found, "GET", path)))
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
