"""Who may read numbers, and the audit record of every answer that returned some.

Phone numbers are personal data. Every route but the public ones (``/health``, ``/stats``,
``/metrics``, the probes, ``/signin``, ``/signout`` and the static files) has its handler
registered behind :func:`requires`, which asks :func:`grant` before the handler does anything
(tests/unit/app/runtime/web/test_routes.py fails for a route that is neither public nor behind it):

- ``OPTOUT_VIEWER_TOKEN`` reads; ``OPTOUT_ADMIN_TOKEN`` reads and acts (decides reviews,
  records operator opt-outs). With no token configured for what is asked, the answer
  is 403: nothing is open by default.
- A client presents a token as ``Authorization: Bearer <token>``, or signs in once
  (the dashboard) and holds a session cookie: ``<role>.<expiry>.<HMAC of both, keyed by
  that role's token>``, HttpOnly and SameSite=Strict. Changing a token signs every
  session of that role out.
- Tokens are compared as bytes in constant time; a header that is not UTF-8 is a 401.

A worker that forwards a request to the worker holding a partition signs it
(:func:`forward_headers`) with the token of the role the caller proved, so the owner
does not audit it again, and a client cannot claim to be a worker without a token.

:func:`audit` publishes one record on ``OPTOUT_AUDIT_TOPIC`` (``sms.audit``) per answer
that returned numbers (which token, its role, what was asked, how many numbers were
returned, when) and waits for the broker's acknowledgement; if the broker does not take
it, the view answers 503 instead of the numbers. The record holds what was asked
(path and query, as the auditor needs to know whose data was read): protect the audit
topic as the consent log is protected.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from aiohttp import web

from app.records import Output, dumps
from app.runtime.web.errors import error_response

if TYPE_CHECKING:
    from app.runtime.host import Host
    from app.settings import Settings

log = logging.getLogger("app.runtime.web")

COOKIE = "optout_session"
REQUIRED = "required_role"  # the attribute :func:`requires` sets on the handler it registers
FORWARDED = "X-Optout-Forwarded"
MAX_ASKED_CHARS = 2048  # what is recorded of a request's path and query


class Role(StrEnum):
    VIEWER = "viewer"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Grant:
    role: Role  # the role of the token presented
    via: str  # "bearer", "cookie" or "forwarded"
    token_id: str  # identifies the token without revealing it (SHA-256, 12 hex)

    @property
    def forwarded(self) -> bool:
        return self.via == "forwarded"


def _token(settings: Settings, role: Role) -> str | None:
    secret = settings.admin_token if role is Role.ADMIN else settings.viewer_token
    return secret.get_secret_value() if secret is not None else None


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def _same(supplied: str, token: str) -> bool:
    return hmac.compare_digest(supplied.encode("utf-8", "surrogatepass"), token.encode("utf-8", "surrogatepass"))


def _sign(token: str, message: str) -> str:
    return hmac.new(token.encode("utf-8", "surrogatepass"), message.encode(), hashlib.sha256).hexdigest()


def role_of_token(settings: Settings, supplied: str) -> Role | None:
    """The role whose configured token ``supplied`` is (admin first), or None."""
    for role in (Role.ADMIN, Role.VIEWER):
        token = _token(settings, role)
        if token is not None and _same(supplied, token):
            return role
    return None


def session_cookie(settings: Settings, role: Role, now_s: float | None = None) -> str:
    """The value of a sign-in cookie for ``role`` (whose token must be configured)."""
    token = _token(settings, role)
    assert token is not None
    expires = int((now_s if now_s is not None else time.time()) + settings.session_max_age_s)
    message = f"{role.value}.{expires}"
    return f"{message}.{_sign(token, message)}"


def set_session(response: web.StreamResponse, settings: Settings, role: Role) -> None:
    response.set_cookie(COOKIE, session_cookie(settings, role), max_age=settings.session_max_age_s,
                        httponly=True, samesite="Strict", path="/")


def clear_session(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/")


def _from_cookie(settings: Settings, value: str, now_s: float) -> Grant | None:
    role_text, _, rest = value.partition(".")
    expires_text, _, signature = rest.partition(".")
    if role_text not in Role.__members__.values() or not expires_text.isdigit() or len(expires_text) > 12:
        return None
    role = Role(role_text)
    token = _token(settings, role)
    if token is None or int(expires_text) < now_s:
        return None
    if not _same(signature, _sign(token, f"{role_text}.{expires_text}")):
        return None
    return Grant(role, "cookie", token_id(token))


def _forward_proof(token: str, method: str, path: str) -> str:
    return _sign(token, f"forwarded {method} {path}")


def forward_headers(settings: Settings, grant: Grant, method: str, path: str) -> dict[str, str]:
    """Headers for a request forwarded to another worker on behalf of ``grant``'s caller:
    the role's token and a proof that a worker (which knows it) forwarded it. ``path`` is
    the forwarded request's path (decoded, without the query)."""
    token = _token(settings, grant.role)
    assert token is not None
    return {"Authorization": f"Bearer {token}", FORWARDED: _forward_proof(token, method, path)}


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, supplied = header.strip().partition(" ")
    return supplied.strip() if scheme.lower() == "bearer" else ""


def identify(request: web.Request, settings: Settings, now_s: float | None = None) -> Grant | None:
    """The caller's grant, from the bearer token or the session cookie; None if neither is valid."""
    supplied = _bearer(request)
    if supplied is not None:
        role = role_of_token(settings, supplied)
        if role is None:
            return None
        token = _token(settings, role)
        assert token is not None
        proof = request.headers.get(FORWARDED)
        if proof and _same(proof, _forward_proof(token, request.method, request.path)):
            return Grant(role, "forwarded", token_id(token))
        return Grant(role, "bearer", token_id(token))
    cookie = request.cookies.get(COOKIE)
    if cookie:
        return _from_cookie(settings, cookie, time.time() if now_s is None else now_s)
    return None


def grant(request: web.Request, settings: Settings, need: Role = Role.VIEWER) -> Grant | web.Response:
    """The caller's grant if it may do what ``need`` allows; else the error answer
    (403 when no token allows it at all, 401 without valid credentials, 403 for a
    viewer asking what only the admin may do)."""
    accepted = [Role.ADMIN] if need is Role.ADMIN else [Role.ADMIN, Role.VIEWER]
    if all(_token(settings, role) is None for role in accepted):
        names = " or ".join(f"OPTOUT_{role.value.upper()}_TOKEN" for role in reversed(accepted))
        return error_response(403, "forbidden", f"disabled: {names} is not set")
    found = identify(request, settings)
    if found is None:
        tokens = " or ".join(f"<OPTOUT_{role.value.upper()}_TOKEN>" for role in reversed(accepted))
        return error_response(401, "unauthorized", f"send 'Authorization: Bearer {tokens}' or sign in",
                              headers={"WWW-Authenticate": "Bearer"})
    if found.role not in accepted:
        return error_response(403, "forbidden", "this needs the admin token")
    return found


Handler = Callable[[web.Request, Grant], Awaitable[web.StreamResponse]]
Guarded = Callable[[web.Request], Awaitable[web.StreamResponse]]


def requires(settings: Settings, need: Role,
             refused: Callable[[web.Response], web.StreamResponse] | None = None) -> Callable[[Handler], Guarded]:
    """The access check of every handler that is not public, before anything else it does::

        @access.requires(settings, Role.VIEWER)
        async def handler(request: web.Request, found: Grant) -> web.Response: ...

    registers ``handler`` to run only for a caller :func:`grant` lets do what ``need``
    allows, given that caller's :class:`Grant`; any other caller gets grant's JSON error,
    or what ``refused`` makes of it (a page answers with a page or a redirect)."""
    def guard(handler: Handler) -> Guarded:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            found = grant(request, settings, need)
            if isinstance(found, web.Response):
                return found if refused is None else refused(found)
            return await handler(request, found)

        setattr(guarded, REQUIRED, need)
        return guarded

    return guard


def required_role(handler: Callable[..., Any]) -> Role | None:
    """The role a registered handler requires (:func:`requires`); None for a public one."""
    return getattr(handler, REQUIRED, None)


def audit_record(worker: str, request: web.Request, found: Grant, returned: int, status: int,
                 now: datetime | None = None) -> dict:
    return {
        "at": (now or datetime.now(UTC)).isoformat(),
        "worker": worker,
        "role": found.role.value,
        "token_id": found.token_id,
        "via": found.via,
        "method": request.method,
        "route": _route(request),
        "asked": request.path_qs[:MAX_ASKED_CHARS],
        "numbers_returned": returned,
        "status": status,
    }


def _route(request: web.Request) -> str | None:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else None


async def audit(host: Host, request: web.Request, found: Grant, returned: int, status: int = 200) -> bool:
    """Record an answer that returns ``returned`` numbers (forwarded requests were recorded
    by the worker that took them). False when the broker did not acknowledge it: the
    caller then answers 503 rather than the numbers."""
    if found.forwarded:
        return True
    record = audit_record(host.worker_id, request, found, returned, status)
    try:
        await host.publish(Output(host.settings.audit_topic, dumps(record), key=found.token_id.encode()))
    except Exception as exc:  # noqa: BLE001 - any failure: no record, so no numbers
        log.warning("audit record not acknowledged by the broker (%s)", type(exc).__name__)
        return False
    return True


def audit_failed() -> web.Response:
    return error_response(503, "unavailable", "the access could not be recorded on the audit topic now; try again")


async def at_owner(host: Host, request: web.Request, found: Grant, number: str,
                   forward: Callable[[str], Awaitable[web.Response]]) -> tuple[Any, web.Response | None]:
    """The state of ``number``'s partition if this worker holds it, recovered: ``(state, None)``.
    Else ``(None, answer)``: the answer of the worker holding it (``forward(owner_url)``, which
    sends :func:`forward_headers`), audited here as one number returned when it is a 200; or a
    503 when the partition is not ready anywhere we know of, or when this request was itself
    forwarded (no loops)."""
    partition, owner = host.owner_of(number)
    state = host.local_state(partition)
    if state is not None:
        return state, None
    if owner is None or owner == host.settings.web_url or found.forwarded:
        return None, error_response(503, "unavailable", "the partition holding this number is not ready here yet")
    answer = await forward(owner)
    if answer.status == 200 and not await audit(host, request, found, 1):
        return None, audit_failed()
    return None, answer
