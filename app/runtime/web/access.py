"""Who may read numbers, who may act, which requests come from a worker, and the audit record
of every answer that returned numbers.

**Who holds which secret.** A client holds a token: ``OPTOUT_VIEWER_TOKEN`` reads,
``OPTOUT_ADMIN_TOKEN`` reads and acts (decides reviews, records operator opt-outs). The
workers hold ``OPTOUT_CLUSTER_SECRET`` (:mod:`app.runtime.cluster_keys`), which no client
holds: a token proves who a *client* is, never that a request comes from a worker. With no
token configured for what is asked, the answer is 403: nothing is open by default.

Every route but the public ones (``/health``, ``/stats``, ``/metrics``, the probes,
``/signin``, ``/signout`` and the static files) has its handler registered behind
:func:`requires`, which asks :func:`grant` before the handler does anything
(tests/unit/app/runtime/web/test_routes.py fails for a route that is neither public nor behind it).

**Clients.** ``Authorization: Bearer <token>`` (compared as bytes in constant time; a header
that is not UTF-8 is a 401), or a session cookie set by the dashboard's sign-in:
``<role>.<expiry>.<session id>.<HMAC>``, the id random per sign-in, the HMAC keyed by the
cluster's *session* key over role, expiry, id and the id of the role's token (so changing a
token signs every session of its role out). HttpOnly, SameSite=Strict, Path=/; with
``OPTOUT_WEB_COOKIE_SECURE`` also Secure and named ``__Host-optout_session``. A cookie
*acts* (any method but GET, HEAD, OPTIONS) only with an ``Origin`` naming this host and an
``application/json`` body; otherwise 403 (bearer tokens are not sent by browsers on their own,
so they need neither). **Sign-out revokes** the session: its id is kept, until the cookie
would expire anyway, in a bounded set (:data:`MAX_REVOKED`; when full, every session of this
worker issued until then is signed out) on the worker that took the sign-out, which passes it
on to the other workers it knows (those holding partitions: :mod:`app.runtime.web.dashboard`).
The set is in memory: a worker that restarts, or was not reachable at sign-out, accepts the
cookie again until it expires (``OPTOUT_SESSION_MAX_AGE_S``). There is no shared store.

**Workers.** A request one worker forwards to another (the worker holding a partition) carries
no client token: it carries :data:`FORWARDED`, a proof made with the cluster's *forwarding*
key over the method, the path, the query, a digest of the body, the time, a random nonce, the
URL it is sent to, the forwarding worker and what the original caller proved (its role, how,
its token's id). The worker asked (:func:`check_forwarding`) takes it only if the HMAC is
right, the time is within :data:`MAX_CLOCK_DIFFERENCE_MS` of its own, the URL is its own,
and the nonce was never seen (nonces are remembered as long as a proof could be valid); it
then trusts the role claimed *because* the proof is valid, answers, and signs its answer
(:data:`ANSWER`: an HMAC over the nonce, the status and the body). The forwarding worker
(:mod:`app.runtime.web.workers`) passes on no answer without that signature: a URL some
member of the consumer group merely advertises gets no token, cannot replay what it was
sent to a real worker (the proof names its URL), and cannot feed false answers. Without a
shared ``OPTOUT_CLUSTER_SECRET`` (a random key per process) a worker asks only itself; a
request for another worker's partition is a 503 naming the setting.

**Audit.** :func:`audit` publishes one record on ``OPTOUT_AUDIT_TOPIC`` (``sms.audit``) per
answer that returned numbers (which token, its role, how it was presented, what was asked,
how many numbers were returned, when; ``forwarded_by`` the worker that forwarded it) and
waits for the broker's acknowledgement; if the broker does not take it, the view answers
503 instead of the numbers. A request forwarded for one number is recorded by the worker
that holds it and answers (the forwarding worker records nothing); an answer gathered from
several workers (a listing, the review queue, a period's evidence, the dashboard) is
recorded once, by the worker that gathers it: the parts the others send it are not answers
to a client. The record holds what was asked (path and query, as the auditor needs to know
whose data was read): protect the audit topic as the consent log is protected.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from aiohttp import web

from app.records import Output, dumps
from app.runtime.web.errors import error_response, read_body

if TYPE_CHECKING:
    from app.runtime.cluster_keys import ClusterKeys
    from app.runtime.host import Host
    from app.settings import Settings

log = logging.getLogger("app.runtime.web")

COOKIE = "optout_session"
SECURE_COOKIE = "__Host-optout_session"  # with OPTOUT_WEB_COOKIE_SECURE: Secure, Path=/, no Domain
REQUIRED = "required_role"  # the attribute :func:`requires` sets on the handler it registers
FORWARDED = "X-Optout-Forwarded"  # a worker's proof on a forwarded request
ANSWER = "X-Optout-Answer"  # the signature of a worker's answer to a forwarded request
MAX_ASKED_CHARS = 2048  # what is recorded of a request's path and query
PROOF_VERSION = "v1"
MAX_CLOCK_DIFFERENCE_MS = 30_000  # a proof is valid this long either side of its time (the workers' clocks)
NONCE_MEMORY_S = 2 * MAX_CLOCK_DIFFERENCE_MS / 1000  # a proof's nonce is remembered as long as it could be valid
MAX_NONCES = 100_000  # nonces remembered; beyond, forwarded requests are refused until some are forgotten
MAX_PROOF_CHARS = 4096
MAX_REVOKED = 10_000  # sessions signed out and not expired yet; beyond, every session issued so far is
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
NONCE = re.compile(r"[0-9a-f]{32}")


class Role(StrEnum):
    VIEWER = "viewer"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Forwarded:
    """A forwarded request's proof, checked: which worker forwarded it and what its caller proved
    there (no role: the worker asks on its own behalf, e.g. its part of ``/stats``)."""

    by: str
    role: Role | None
    via: str | None
    token_id: str | None
    nonce: str


class Trust:
    """What one worker's web application trusts and remembers: the cluster keys, the URLs it
    answers at (a proof must name one), the nonces of the proofs it took, the sessions signed
    out here. One per application (:data:`TRUST`)."""

    def __init__(self, settings: Settings, keys: ClusterKeys, worker: str) -> None:
        self.settings = settings
        self.keys = keys
        self.worker = worker
        self.urls = {settings.web_url}
        self._nonces: OrderedDict[str, float] = OrderedDict()  # nonce -> when it may be forgotten (monotonic s)
        self._revoked: dict[str, int] = {}  # session id -> its expiry (unix s)
        self._expiring_by = 0  # sessions expiring by then (unix s) are signed out: the set overflowed

    @property
    def shared(self) -> bool:
        """Do the other workers hold the same keys (``OPTOUT_CLUSTER_SECRET`` is set)?"""
        return self.keys.shared

    def answers_at(self, url: str) -> None:
        self.urls.add(url)

    def is_here(self, url: str) -> bool:
        return url in self.urls

    def first_use(self, nonce: str, now_s: float | None = None) -> bool:
        """True once per nonce (while it is remembered); False if seen, or if too many are."""
        now_s = time.monotonic() if now_s is None else now_s
        while self._nonces:
            oldest, until = next(iter(self._nonces.items()))
            if until > now_s:
                break
            del self._nonces[oldest]
        if nonce in self._nonces:
            return False
        if len(self._nonces) >= MAX_NONCES:
            log.warning("more than %d forwarded requests in %.0f s: refused until some are forgotten",
                        MAX_NONCES, NONCE_MEMORY_S)
            return False
        self._nonces[nonce] = now_s + NONCE_MEMORY_S
        return True

    def revoke(self, session_id: str, expires: int, now_s: float | None = None) -> None:
        """Sign the session ``session_id`` out here, until it would expire anyway."""
        now = int(time.time() if now_s is None else now_s)
        for sid in [sid for sid, until in self._revoked.items() if until < now]:
            del self._revoked[sid]
        if len(self._revoked) >= MAX_REVOKED:
            self._expiring_by = now + self.settings.session_max_age_s
            self._revoked.clear()
            log.warning("more than %d sessions signed out: every session issued so far is signed out", MAX_REVOKED)
        self._revoked[session_id] = expires

    def revoked(self, session_id: str, expires: int) -> bool:
        return expires <= self._expiring_by or session_id in self._revoked


TRUST = web.AppKey("optout_trust", Trust)
PROVED = web.RequestKey("optout_forwarded", object)  # the request's Forwarded, or None (a proof that failed)


def install(app: web.Application, host: Host) -> Trust:
    """This application's :class:`Trust` (the worker's keys and id), and the two middlewares of
    forwarded requests: ``middlewares=[sign_answers, json_errors, check_forwarding]``."""
    trust = Trust(host.settings, host.cluster_keys, host.worker_id)
    app[TRUST] = trust
    return trust


def trust_of(request: web.Request) -> Trust | None:
    return request.app.get(TRUST)


@dataclass(frozen=True, slots=True)
class Grant:
    role: Role  # the role of the token presented (for a forwarded request: as the forwarding worker proved)
    via: str  # "bearer" or "cookie": how the caller presented it (to this worker, or to the one that forwarded)
    token_id: str  # identifies the token without revealing it (SHA-256, 12 hex)
    forwarded_by: str | None = None  # the worker that forwarded the request (its proof checked); None: a client
    trust: Trust | None = field(default=None, compare=False, repr=False)  # the worker it was granted on

    @property
    def forwarded(self) -> bool:
        return self.forwarded_by is not None


def _token(settings: Settings, role: Role) -> str | None:
    secret = settings.admin_token if role is Role.ADMIN else settings.viewer_token
    return secret.get_secret_value() if secret is not None else None


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def _same(supplied: str, token: str) -> bool:
    return hmac.compare_digest(supplied.encode("utf-8", "surrogatepass"), token.encode("utf-8", "surrogatepass"))


def _mac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def role_of_token(settings: Settings, supplied: str) -> Role | None:
    """The role whose configured token ``supplied`` is (admin first), or None."""
    for role in (Role.ADMIN, Role.VIEWER):
        token = _token(settings, role)
        if token is not None and _same(supplied, token):
            return role
    return None


# ------------------------------------------------------------ sessions


def cookie_name(settings: Settings) -> str:
    return SECURE_COOKIE if settings.web_cookie_secure else COOKIE


def _session_mac(trust: Trust, role: str, expires: str, session_id: str, tid: str) -> str:
    return _mac(trust.keys.key("session"), f"sms-optout session v1|{role}|{expires}|{session_id}|{tid}")


def session_cookie(trust: Trust, role: Role, now_s: float | None = None) -> str:
    """The value of a new sign-in cookie for ``role`` (whose token must be configured)."""
    token = _token(trust.settings, role)
    assert token is not None
    expires = str(int((now_s if now_s is not None else time.time()) + trust.settings.session_max_age_s))
    session_id = secrets.token_urlsafe(18)
    signature = _session_mac(trust, role.value, expires, session_id, token_id(token))
    return f"{role.value}.{expires}.{session_id}.{signature}"


@dataclass(frozen=True, slots=True)
class Session:
    role: Role
    expires: int
    session_id: str
    token_id: str


def read_session(trust: Trust, value: str, now_s: float | None = None) -> Session | None:
    """The session a cookie value holds if this worker signed it, it has not expired, and its
    role's token is the one it was signed in with; revoked or not (see :func:`_from_cookie`)."""
    parts = value.split(".")
    if len(parts) != 4:
        return None
    role_text, expires_text, session_id, signature = parts
    if role_text not in Role.__members__.values() or not expires_text.isdigit() or len(expires_text) > 12 \
            or not SESSION_ID.fullmatch(session_id):
        return None
    role = Role(role_text)
    token = _token(trust.settings, role)
    if token is None or int(expires_text) < (time.time() if now_s is None else now_s):
        return None
    tid = token_id(token)
    if not _same(signature, _session_mac(trust, role_text, expires_text, session_id, tid)):
        return None
    return Session(role, int(expires_text), session_id, tid)


def _from_cookie(trust: Trust, value: str, now_s: float) -> Grant | None:
    session = read_session(trust, value, now_s)
    if session is None or trust.revoked(session.session_id, session.expires):
        return None
    return Grant(session.role, "cookie", session.token_id, trust=trust)


def set_session(response: web.StreamResponse, trust: Trust, role: Role) -> None:
    settings = trust.settings
    response.set_cookie(cookie_name(settings), session_cookie(trust, role), max_age=settings.session_max_age_s,
                        httponly=True, samesite="Strict", path="/", secure=True if settings.web_cookie_secure else None)


def clear_session(response: web.StreamResponse, settings: Settings) -> None:
    response.del_cookie(cookie_name(settings), path="/", httponly=True, samesite="Strict",
                        secure=True if settings.web_cookie_secure else None)


def sign_out(request: web.Request, trust: Trust) -> Session | None:
    """Revoke the session of the request's cookie here (if it is one this worker accepts)."""
    value = request.cookies.get(cookie_name(trust.settings))
    session = read_session(trust, value) if value else None
    if session is not None:
        trust.revoke(session.session_id, session.expires)
    return session


def same_origin(request: web.Request, *, referer: bool = True) -> bool:
    """Did a page of this host send it? ``Origin`` (or, without it and when ``referer``, the
    ``Referer``) must name this host and port (the scheme is not compared: a proxy may end
    TLS in front of us)."""
    claimed = request.headers.get("Origin")
    if claimed is None and referer:
        claimed = request.headers.get("Referer")
    if not claimed or claimed == "null":
        return False
    try:
        netloc = urllib.parse.urlsplit(claimed).netloc
    except ValueError:
        return False
    return bool(netloc) and netloc.lower() == (request.host or "").lower()


# ------------------------------------------------------------ forwarded requests


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _proof_message(method: str, path: str, query: Iterable[tuple[str, str]], body: bytes, claims: str) -> str:
    pairs = json.dumps(sorted([str(k), str(v)] for k, v in query), ensure_ascii=True, separators=(",", ":"))
    return "\n".join(("sms-optout forwarded " + PROOF_VERSION, method.upper(), path, pairs,
                      hashlib.sha256(body).hexdigest(), claims))


def forward_proof(trust: Trust, grant: Grant | None, method: str, url: str, path: str,
                  query: Mapping[str, str], body: bytes = b"", now_ms: int | None = None) -> tuple[str, str]:
    """The :data:`FORWARDED` header of a request to ``url`` + ``path`` (decoded, without the
    query) with ``query`` and ``body``, on behalf of ``grant``'s caller (None: this worker's
    own), and its nonce (the answer's signature covers it)."""
    nonce = secrets.token_hex(16)
    claims = {"t": int(time.time() * 1000) if now_ms is None else now_ms, "n": nonce, "to": url, "by": trust.worker,
              "role": grant.role.value if grant else None, "via": grant.via if grant else None,
              "tid": grant.token_id if grant else None}
    encoded = _b64(json.dumps(claims, sort_keys=True, separators=(",", ":")).encode())
    signature = _mac(trust.keys.key("forwarding"), _proof_message(method, path, query.items(), body, encoded))
    return f"{PROOF_VERSION}.{encoded}.{signature}", nonce


def verify_proof(trust: Trust, request: web.Request, body: bytes, now_ms: int | None = None) -> Forwarded | None:
    """The request's :data:`FORWARDED` proof if a worker of this cluster made it for this very
    request, to this worker, within the allowed clock difference, and it is its first use."""
    value = request.headers.get(FORWARDED, "")
    parts = value.split(".") if len(value) <= MAX_PROOF_CHARS else []
    if len(parts) != 3 or parts[0] != PROOF_VERSION:
        return None
    _, encoded, signature = parts
    expected = _mac(trust.keys.key("forwarding"),
                    _proof_message(request.method, request.path, request.query.items(), body, encoded))
    if not hmac.compare_digest(signature.encode("ascii", "replace"), expected.encode()):
        return None
    try:
        claims = json.loads(_unb64(encoded))
    except ValueError:
        return None
    if not isinstance(claims, dict):
        return None
    sent, nonce, to, by = claims.get("t"), claims.get("n"), claims.get("to"), claims.get("by")
    role, via, tid = claims.get("role"), claims.get("via"), claims.get("tid")
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if not isinstance(sent, int) or abs(now_ms - sent) > MAX_CLOCK_DIFFERENCE_MS:
        log.warning("a forwarded request's proof is %s ms from this worker's clock: refused (at most %d)",
                    now_ms - sent if isinstance(sent, int) else "?", MAX_CLOCK_DIFFERENCE_MS)
        return None
    if not isinstance(to, str) or not trust.is_here(to) or not isinstance(by, str) \
            or not isinstance(nonce, str) or not NONCE.fullmatch(nonce) \
            or role not in (None, *Role.__members__.values()) or via not in (None, "bearer", "cookie") \
            or not (tid is None or isinstance(tid, str)):
        return None
    if not trust.first_use(nonce):
        return None
    return Forwarded(by[:200], Role(role) if role else None, via, tid[:64] if tid else None, nonce)


def answer_signature(trust: Trust, nonce: str, status: int, body: bytes) -> str:
    return _mac(trust.keys.key("forwarding"),
                f"sms-optout answer {PROOF_VERSION}\n{nonce}\n{status}\n{hashlib.sha256(body).hexdigest()}")


def answer_proved(trust: Trust, nonce: str, status: int, body: bytes, signature: str | None) -> bool:
    """Did a worker holding the cluster's keys give this answer to the request of ``nonce``?"""
    if not signature:
        return False
    return hmac.compare_digest(signature.encode("ascii", "replace"),
                               answer_signature(trust, nonce, status, body).encode())


class ForwardAs(dict):
    """What :func:`forward_headers` returns: who a request is forwarded for, and no header at all
    (no client token leaves this worker). :func:`app.runtime.web.workers.ask` (and
    :func:`~app.runtime.web.workers.forward`) sign each request with it; sent as plain
    headers, it is empty and proves nothing."""

    def __init__(self, trust: Trust | None, grant: Grant | None, method: str, path: str) -> None:
        super().__init__()
        self.trust, self.grant, self.method, self.path = trust, grant, method.upper(), path


def forward_headers(settings: Settings, grant: Grant, method: str, path: str) -> ForwardAs:
    """Who a request forwarded to another worker is for (``grant``'s caller): give it to
    :func:`app.runtime.web.workers.forward` or :func:`~app.runtime.web.workers.ask`, which sign
    the request they send (method, path, query, body) with the cluster's forwarding key."""
    return ForwardAs(grant.trust, grant, method, path)


@web.middleware
async def check_forwarding(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    """A request carrying :data:`FORWARDED`: its proof checked, once (its nonce is spent), before
    any handler runs; ``request[PROVED]`` is the :class:`Forwarded` or None. A client's header
    that proves nothing is ignored (the request is then a client's like any other)."""
    trust = trust_of(request)
    if trust is not None and FORWARDED in request.headers:
        proved = verify_proof(trust, request, await read_body(request))
        if proved is None:
            log.debug("a request claimed to be forwarded without a valid worker proof: taken as a client's")
        request[PROVED] = proved
    return await handler(request)


@web.middleware
async def sign_answers(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    """The answer to a proved forwarded request, signed (:data:`ANSWER`) for the worker that asked."""
    response = await handler(request)
    proved = request.get(PROVED)
    trust = trust_of(request)
    if isinstance(proved, Forwarded) and trust is not None and isinstance(response, web.Response):
        body = response.body
        if body is None:
            body = b""
        if isinstance(body, (bytes, bytearray)):
            response.headers[ANSWER] = answer_signature(trust, proved.nonce, response.status, bytes(body))
    return response


# ------------------------------------------------------------ who asks


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, supplied = header.strip().partition(" ")
    return supplied.strip() if scheme.lower() == "bearer" else ""


def identify(request: web.Request, settings: Settings, now_s: float | None = None) -> Grant | None:
    """The caller's grant: what a checked worker proof says the original caller proved, else
    the bearer token, else the session cookie; None if none is valid."""
    trust = trust_of(request)
    proved = request.get(PROVED)
    if isinstance(proved, Forwarded):
        if proved.role is None or _token(settings, proved.role) is None:
            return None  # a worker asking on its own behalf reads nothing behind a token
        return Grant(proved.role, proved.via or "bearer", proved.token_id or "", forwarded_by=proved.by, trust=trust)
    supplied = _bearer(request)
    if supplied is not None:
        role = role_of_token(settings, supplied)
        if role is None:
            return None
        token = _token(settings, role)
        assert token is not None
        return Grant(role, "bearer", token_id(token), trust=trust)
    cookie = request.cookies.get(cookie_name(settings))
    if cookie and trust is not None:
        return _from_cookie(trust, cookie, time.time() if now_s is None else now_s)
    return None


def grant(request: web.Request, settings: Settings, need: Role = Role.VIEWER) -> Grant | web.Response:
    """The caller's grant if it may do what ``need`` allows; else the error answer
    (403 when no token allows it at all, 401 without valid credentials, 403 for a
    viewer asking what only the admin may do, 403 for a session cookie acting without
    ``Origin`` of this host and a JSON body)."""
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
    if found.via == "cookie" and not found.forwarded and request.method not in SAFE_METHODS:
        if not same_origin(request, referer=False):
            return error_response(403, "forbidden", "a session cookie acts only from this dashboard's own pages "
                                  "(Origin); a program sends 'Authorization: Bearer <token>'")
        if request.content_type != "application/json":
            return error_response(403, "forbidden", "a session cookie acts only with a JSON body "
                                  "(Content-Type: application/json)")
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


# ------------------------------------------------------------ the audit


def audit_record(worker: str, request: web.Request, found: Grant, returned: int, status: int,
                 now: datetime | None = None) -> dict:
    return {
        "at": (now or datetime.now(UTC)).isoformat(),
        "worker": worker,
        "role": found.role.value,
        "token_id": found.token_id,
        "via": found.via,
        "forwarded_by": found.forwarded_by,
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
    """Record an answer that returns ``returned`` numbers, on the worker that answers (a
    forwarded request's too: its owner records it, the forwarding worker does not). False
    when the broker did not acknowledge it: the caller then answers 503 rather than the numbers."""
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
    """The state of ``number``'s partition if this worker holds it, recovered: ``(state, None)``;
    the caller then answers and audits. Else ``(None, answer)``: the answer of the worker
    holding it (``forward(owner_url)``, which signs the request for :func:`forward_headers`),
    which that worker audited (not audited again here); or a 503 when the partition is not
    ready anywhere we know of, or when this request was itself forwarded (no loops)."""
    partition, owner = host.owner_of(number)
    state = host.local_state(partition)
    if state is not None:
        return state, None
    trust = found.trust
    here = trust.is_here(owner) if trust is not None and owner is not None else owner == host.settings.web_url
    if owner is None or here or owner == host.settings.web_url or found.forwarded:
        return None, error_response(503, "unavailable", "the partition holding this number is not ready here yet")
    return None, await forward(owner)
