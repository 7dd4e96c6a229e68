"""`GET /health`, `GET /optouts/{number}`, `GET /stats`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
from faust import web

from app.domain.numbers import NumberStatus, parse_number

if TYPE_CHECKING:
    import faust

    from app.runtime.host import Host

FORWARDED = "X-Optout-Forwarded"


def register(app: faust.App, host: Host) -> None:
    settings = host.settings

    @app.page("/health")
    class Health(web.View):
        async def get(self, request: web.Request) -> web.Response:
            report = host.health()
            if report["ready"]:
                return self.json({"status": "ok", **report})
            return self.json({"status": "not_ready", **report}, status=503)

    @app.page("/stats")
    class StatsView(web.View):
        async def get(self, request: web.Request) -> web.Response:
            return self.json({"scope": "this worker, since it started", **host.stats.snapshot()})

    @app.page("/optouts/{number}")
    class OptOutLookup(web.View):
        async def get(self, request: web.Request, number: str) -> web.Response:
            parsed = parse_number(number, settings.default_region)
            if parsed.status in (NumberStatus.MISSING, NumberStatus.UNPARSEABLE):
                return self.json({"error": "invalid_number", "detail": parsed.error, "number": number}, status=400)
            account_id = request.query.get("account", "default")
            if not account_id:
                return self.json({"error": "invalid_account", "detail": "account must not be empty"}, status=400)
            e164 = parsed.e164
            assert e164 is not None
            partition, owner = host.owner_of(e164)
            state_view = host.local_state(partition)
            if state_view is None:
                if owner is None or owner == settings.web_url or request.headers.get(FORWARDED):
                    return self.json({"error": "unavailable",
                                      "detail": "the partition holding this number is not ready here yet"},
                                     status=503)
                return await self._forward(request, owner, e164, account_id)
            state = host.decider.lookup(state_view, e164, account_id)
            body = {
                "number": e164,
                "account_id": account_id,
                "opted_out": bool(state and state.opted_out),
                "changed_at": state.changed_at.isoformat() if state else None,
                "scope": settings.scope,
            }
            if state is not None:
                body.update(
                    source=state.source.value, rule=state.rule, matched=state.matched, message_id=state.message_id
                )
            return self.json(body)

        async def _forward(self, request: web.Request, owner: str, e164: str, account_id: str) -> web.Response:
            url = f"{owner}/optouts/{e164}"
            try:
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session, \
                        session.get(url, params={"account": account_id}, headers={FORWARDED: "1"}) as resp:
                    return self.json(await resp.json(), status=resp.status)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                return self.json({"error": "unavailable", "detail": f"the worker holding this number did not "
                                  f"answer ({type(exc).__name__})"}, status=503)
