"""`POST /optouts`: an operator records an opt-out on a contact's behalf.

There is deliberately no way to opt anyone back in: only the contact can, by
replying START. Every other method on the opt-out resources answers 405.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web
from pydantic import ValidationError

from app.domain.numbers import NumberStatus, parse_number
from app.records import loads
from app.runtime.web import access
from app.runtime.web.access import Role
from app.runtime.web.errors import error_response, read_body
from app.runtime.web.views import json_answer
from schemas import OperatorOptOut

if TYPE_CHECKING:
    from app.runtime.host import Host

log = logging.getLogger("app.runtime.web")


def _problems(exc: ValidationError) -> list[str]:
    """Field names only when they are ours: a client's unknown key is not echoed."""
    fields = OperatorOptOut.model_fields
    return [f"{'.'.join(str(p) if p in fields else '(unknown field)' for p in e['loc']) or '(body)'}: {e['msg']}"
            for e in exc.errors()]


def register(app: web.Application, host: Host) -> None:
    settings = host.settings

    async def post(request: web.Request) -> web.Response:
        found = access.grant(request, settings, Role.ADMIN)
        if isinstance(found, web.Response):
            return found
        raw = await read_body(request)
        try:
            body = OperatorOptOut.model_validate(loads(raw))
        except ValidationError as exc:
            return error_response(400, "invalid_request", _problems(exc))
        except ValueError as exc:  # not JSON (orjson's message gives the position, not the text)
            return error_response(400, "invalid_request", f"body is not valid JSON: {exc}")
        parsed = parse_number(body.number, settings.default_region)
        if parsed.status in (NumberStatus.MISSING, NumberStatus.UNPARSEABLE):
            return error_response(400, "invalid_number", parsed.error)
        assert parsed.e164 is not None
        output = host.router.operator_opt_out(parsed.e164, body.account_id, body.reason, body.requested_by)
        try:
            await host.publish(output)
        except Exception as exc:  # the broker did not take it: nothing is recorded, the operator may retry
            log.warning("operator opt-out not acknowledged by the broker (%s)", type(exc).__name__)
            return error_response(503, "unavailable", "the opt-out could not be recorded now; try again")
        if not await access.audit(host, request, found, 1, status=202):
            log.warning("operator opt-out recorded; its audit record was not acknowledged")
        return json_answer(
            {
                "status": "accepted",
                "number": parsed.e164,
                "account_id": body.account_id,
                "event_id": loads(output.value)["message_id"],
            },
            status=202,
        )

    app.router.add_post("/optouts", post)
