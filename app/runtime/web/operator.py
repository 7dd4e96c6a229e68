"""`POST /optouts`: an operator records an opt-out on a contact's behalf.

There is deliberately no way to opt anyone back in: only the contact can, by
replying START. Every other method on the opt-out resources answers 405.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from faust import web
from pydantic import ValidationError

from app.domain.numbers import NumberStatus, parse_number
from app.records import loads
from schemas import OperatorOptOut

if TYPE_CHECKING:
    import faust

    from app.runtime.host import Host


def _authorized(header: str, token: str) -> bool:
    scheme, _, supplied = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(supplied.strip().encode(), token.encode())


def register(app: faust.App, host: Host) -> None:
    settings = host.settings

    @app.page("/optouts")
    class OperatorOptOutView(web.View):
        async def post(self, request: web.Request) -> web.Response:
            if settings.admin_token is None:
                return self.json(
                    {"error": "forbidden", "detail": "operator opt-out is disabled: OPTOUT_ADMIN_TOKEN is not set"},
                    status=403,
                )
            if not _authorized(request.headers.get("Authorization", ""), settings.admin_token.get_secret_value()):
                return self.json(
                    {"error": "unauthorized", "detail": "send 'Authorization: Bearer <OPTOUT_ADMIN_TOKEN>'"},
                    status=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            try:
                body = OperatorOptOut.model_validate(loads(await request.read()))
            except ValueError as exc:  # JSON errors and ValidationError
                detail = (
                    [f"{'.'.join(map(str, e['loc'])) or '(body)'}: {e['msg']}" for e in exc.errors()]
                    if isinstance(exc, ValidationError)
                    else f"body is not valid JSON: {exc}"
                )
                return self.json({"error": "invalid_request", "detail": detail}, status=400)
            parsed = parse_number(body.number, settings.default_region)
            if parsed.status in (NumberStatus.MISSING, NumberStatus.UNPARSEABLE):
                return self.json({"error": "invalid_number", "detail": parsed.error, "number": body.number}, status=400)
            assert parsed.e164 is not None
            output = host.router.operator_opt_out(parsed.e164, body.account_id, body.reason, body.requested_by)
            await host.publish(output)
            return self.json(
                {
                    "status": "accepted",
                    "number": parsed.e164,
                    "account_id": body.account_id,
                    "event_id": loads(output.value)["message_id"],
                },
                status=202,
            )
