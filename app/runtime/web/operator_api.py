"""`POST /optouts`: an operator records an opt-out on a contact's behalf.

There is deliberately no way to opt anyone back in: only the contact can, by
replying START. Every other method on the opt-out resources answers 405.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from app.domain.numbers import NumberStatus, parse_number
from app.records import loads
from app.runtime.web import access
from app.runtime.web.access import Grant, Role
from app.runtime.web.errors import error_response, json_answer, read_model
from schemas import OperatorOptOut

if TYPE_CHECKING:
    from app.runtime.host import Host

log = logging.getLogger("app.runtime.web")


def register(app: web.Application, host: Host) -> None:
    settings = host.settings

    @access.requires(settings, Role.ADMIN)
    async def post(request: web.Request, found: Grant) -> web.Response:
        _, body = await read_model(request, OperatorOptOut)
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
