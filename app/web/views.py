"""`GET /health`, `GET /optouts/{number}`, `GET /stats`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faust import web
from faust.exceptions import SameNode
from faust.web.exceptions import ServiceUnavailable

from app.domain.numbers import NumberStatus, parse_number

if TYPE_CHECKING:
    from app.faust_app import Pipeline


def is_ready(pipeline: Pipeline) -> bool:
    app = pipeline.app
    return bool(app.tables.recovery.completed.is_set() and not app.rebalancing)


def register(pipeline: Pipeline) -> None:
    app = pipeline.app
    settings = pipeline.settings
    table = pipeline.table

    @app.page("/health")
    class Health(web.View):
        async def get(self, request: web.Request) -> web.Response:
            if is_ready(pipeline):
                return self.json({"status": "ok"})
            return self.json({"status": "starting", "rebalancing": bool(app.rebalancing)}, status=503)

    @app.page("/stats")
    class StatsView(web.View):
        async def get(self, request: web.Request) -> web.Response:
            return self.json({"scope": "this worker, since it started", **pipeline.stats.snapshot()})

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
            try:
                # Same routing as @app.table_route, but on the *normalized* number:
                # forwards to the worker that owns the number's partition.
                return await app.router.route_req(table.name, e164, self.web, request)
            except SameNode:
                pass
            except ServiceUnavailable:
                return self.json({"error": "unavailable", "detail": "partition assignment not known yet"}, status=503)
            state = pipeline.decider.lookup(table, e164, account_id)
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
