"""The dashboard: server-rendered pages (Jinja2) for people, signed in with a token.

    GET  /                     the dashboard (or the sign-in form when not signed in)
    POST /signin               token in a form field -> session cookie (HttpOnly, SameSite=Strict)
    POST /signout              clears it
    GET  /dashboard/panels     the dashboard's panels, as an HTML fragment (the page refreshes with it)
    GET  /dashboard/data       the same data as JSON
    GET  /dashboard/worker     this worker's part of the pipeline health (no numbers; asked by the others)
    GET  /numbers?number=      the search box: redirects to the number's timeline
    GET  /numbers/{number}     a number's consent timeline (``GET /optouts/{number}/history``) as a table
    GET  /numbers/ref/{ref}    the timeline a row of the recent outcomes panel links to: the number is
                               sealed in ``ref`` (:class:`dashboard_data.References`), never in the page;
                               shown masked to a viewer, whole to the admin
    GET  /static/{file}        the page's CSS and JavaScript, and the chart library (scripts/vendor_assets.py)

Everything but the sign-in form, ``/signin``, ``/signout`` and ``/static`` needs the viewer or
admin token (:func:`access.requires`: a session cookie or a bearer token); every answer that
shows numbers is audited once with how many it shows (a timeline read from another worker
is audited by that worker, which answers it). Numbers in lists are masked (last 4
digits); the timeline shows the number that was searched for, and a timeline reached from
a list by its sealed reference shows it masked (to a viewer: the list's links never
unmask a number; the admin, who may list whole numbers, sees it whole). ``POST /signin`` and
``POST /signout`` are taken only from a page of the same origin (``Origin``, or else
``Referer``, must name this host): a form on another site cannot sign a browser in or out.
A sign-in gets a new session (a random id, signed with the cluster's session key); sign-out
revokes it on this worker and on the other workers it knows (:mod:`app.runtime.web.access`
says how far that holds). Whatever a client posts to ``/signin`` (any number of fields,
any bytes) is answered with the form or a 4xx, never a 5xx.
Pages carry a Content-Security-Policy allowing only this origin's scripts and styles:
no CDN, no inline script.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import jinja2
from aiohttp import web

from app.domain.masking import mask
from app.domain.numbers import NumberStatus, parse_recipient
from app.records import Output, dumps
from app.runtime.web import access, workers
from app.runtime.web.access import Grant, Role
from app.runtime.web.consent_tail import LogTail
from app.runtime.web.dashboard_data import Gatherer, References, local_worker
from app.runtime.web.errors import error_response, json_answer, read_body
from app.runtime.web.timeline_api import BadTime, parse_time, read_timeline
from schemas.inbound import MAX_ACCOUNT_CHARS, bounded_id

if TYPE_CHECKING:
    from app.runtime.host import Host

log = logging.getLogger("app.runtime.web")

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
REFRESH_S = 5
MAX_TOKEN_CHARS = 1024
MAX_FORM_FIELDS = 10  # the sign-in form has one; a body with more is not that form (a 400, never a 5xx)
MAX_NUMBER_CHARS = 64
MAX_AS_OF_CHARS = 64
FAILED_SIGNIN_DELAY_S = 0.3
STATIC_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,100}(/[A-Za-z0-9_-][A-Za-z0-9._-]{0,100})?")
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".svg": "image/svg+xml",
                 ".LICENSE": "text/plain"}
HTML_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
STATIC_CACHE = "public, max-age=31536000, immutable"  # URLs carry ?v=<content hash>
TAIL = web.AppKey("dashboard_tail", LogTail)  # the application's tail of the outcome logs
# what a timeline reached by reference shows whole to a viewer: times and fixed vocabularies
# (every other text is masked: the reply's text, the number written to, ids, names, notes)
SHOWN_WHOLE = frozenset({"event_time", "processed_at", "changed_at", "review_deadline", "events_left_out_between",
                         "as_of", "intent", "source", "rule", "verdict", "previous_state", "new_state", "scope",
                         "keywords_id"})


class Static:
    """The files under ``static/``, read on first use and kept (they are small)."""

    def __init__(self, root: Path = STATIC) -> None:
        self.root = root
        self._files: dict[str, tuple[float, bytes, str]] = {}  # name -> (mtime, content, hash)

    def get(self, name: str) -> tuple[bytes, str] | None:
        if not STATIC_NAME.fullmatch(name) or ".." in name:
            return None
        path = self.root / name
        suffix = "".join(path.suffixes[-1:])
        if suffix not in CONTENT_TYPES or not path.is_file():
            return None
        mtime = path.stat().st_mtime
        kept = self._files.get(name)
        if kept is None or kept[0] != mtime:
            content = path.read_bytes()
            kept = (mtime, content, hashlib.sha256(content).hexdigest()[:16])
            self._files[name] = kept
        return kept[1], kept[2]

    def url(self, name: str) -> str | None:
        found = self.get(name)
        return f"/static/{name}?v={found[1]}" if found is not None else None


def same_origin(request: web.Request) -> bool:
    """Did a page of this host send it? ``Origin`` (or, without it, ``Referer``) must name
    this host and port (the scheme is not compared: a proxy may end TLS in front of us)."""
    return access.same_origin(request)


def token_field(body: bytes) -> str | None:
    """The ``token`` field of a sign-in form's body ("" without one); None if the body is not
    such a form (not UTF-8, more than :data:`MAX_FORM_FIELDS` fields, the token twice)."""
    try:
        text = body.decode("utf-8")
        fields = urllib.parse.parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS,
                                        encoding="utf-8", errors="strict")
    except ValueError:  # UnicodeDecodeError too; and more fields than allowed
        return None
    tokens = [value for name, value in fields if name == "token"]
    if len(tokens) > 1:
        return None
    return tokens[0].strip() if tokens else ""


def short_time(value: Any) -> str:
    """An ISO time as ``YYYY-MM-DD HH:MM:SS`` (UTC as recorded); anything else as text."""
    if not isinstance(value, str):
        return "" if value is None else str(value)
    return value[:19].replace("T", " ") if len(value) >= 19 and value[10:11] == "T" else value


def masked_view(value: Any) -> Any:
    """``value`` (a timeline answer, or a part of one) with every text :func:`mask`-ed but the
    keys of :data:`SHOWN_WHOLE` (times, fixed vocabularies), for a viewer."""
    if isinstance(value, dict):
        return {k: v if k in SHOWN_WHOLE else masked_view(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked_view(v) for v in value]
    if isinstance(value, str):
        return mask(value)
    return value


def make_templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["short_time"] = short_time
    return env


def register(app: web.Application, host: Host) -> None:
    settings = host.settings
    templates = make_templates()
    static = Static()
    tail = LogTail(settings)  # sms.consent, sms.suppressed, sms.review: every partition, on every worker
    refs = References(host.cluster_keys)
    gatherer = Gatherer(host, tail, refs)
    app[TAIL] = tail
    templates.globals["static_url"] = static.url

    async def stop_tail(_app: web.Application) -> None:
        await tail.stop()

    app.on_cleanup.append(stop_tail)

    def html(template: str, status: int = 200, **context: Any) -> web.Response:
        text = templates.get_template(template).render(refresh_s=REFRESH_S, **context)
        return web.Response(text=text, status=status, content_type="text/html", charset="utf-8",
                            headers=HTML_HEADERS)

    def signin_page(status: int = 200, error: str | None = None) -> web.Response:
        return html("signin.html", status, error=error)

    def refused(answer: web.Response) -> web.Response:
        """The dashboard asked without a valid grant: the sign-in form, or why there is none."""
        if answer.status == 403:
            return html("disabled.html", 403)
        return signin_page()

    def to_dashboard(_answer: web.Response) -> web.Response:
        """A page of the dashboard asked without a valid grant: to the dashboard (the sign-in form)."""
        return web.Response(status=303, headers={"Location": "/"})

    @access.requires(settings, Role.VIEWER, refused)
    async def dashboard(request: web.Request, found: Grant) -> web.Response:
        model = await gatherer.gather(found)
        if not await access.audit(host, request, found, model["numbers_shown"]):
            return html("error.html", 503, message="The access could not be recorded on the audit topic now; "
                        "try again.")
        return html("dashboard.html", data=model, role=found.role.value, via=found.via)

    def audited_model(render: Callable[[dict], web.Response]) -> access.Guarded:
        """A handler answering the panels' data as ``render`` makes it, once its access is recorded."""
        @access.requires(settings, Role.VIEWER)
        async def answer(request: web.Request, found: Grant) -> web.Response:
            model = await gatherer.gather(found)
            if not await access.audit(host, request, found, model["numbers_shown"]):
                return access.audit_failed()
            return render(model)

        return answer

    panels = audited_model(lambda model: html("panels.html", data=model))
    data = audited_model(lambda model: json_answer(model, headers={"Cache-Control": "no-store"}))

    @access.requires(settings, Role.VIEWER)
    async def worker(request: web.Request, found: Grant) -> web.Response:
        return json_answer(local_worker(host))

    async def signin(request: web.Request) -> web.Response:
        if not same_origin(request):
            return error_response(403, "forbidden", "sign in from this dashboard's own page")
        if settings.viewer_token is None and settings.admin_token is None:
            return html("disabled.html", 403)
        trust = access.trust_of(request)
        assert trust is not None
        supplied = token_field(await read_body(request))
        if supplied is None:
            return signin_page(400, "That was not the sign-in form.")
        role = access.role_of_token(settings, supplied) if 0 < len(supplied) <= MAX_TOKEN_CHARS else None
        if role is None:
            await asyncio.sleep(FAILED_SIGNIN_DELAY_S)
            return signin_page(401, "That token is not valid.")
        answer = web.Response(status=303, headers={"Location": "/", "Cache-Control": "no-store"})
        access.set_session(answer, trust, role)
        return answer

    async def signout(request: web.Request) -> web.Response:
        trust = access.trust_of(request)
        assert trust is not None
        proved = request.get(access.PROVED)
        if isinstance(proved, access.Forwarded):  # another worker passes a sign-out on
            return revoke_passed_on(trust, await read_body(request))
        if not same_origin(request):
            return error_response(403, "forbidden", "sign out from this dashboard's own page")
        session = access.sign_out(request, trust)
        if session is not None:
            await pass_sign_out_on(trust, session)
        answer = web.Response(status=303, headers={"Location": "/", "Cache-Control": "no-store"})
        access.clear_session(answer, settings)
        return answer

    async def pass_sign_out_on(trust: access.Trust, session: access.Session) -> None:
        """The other workers this one knows (those holding partitions) revoke the session too
        (best effort, 2 s; one that is down or restarts does not know it: access.py)."""
        urls = sorted({url for url in host.ownership.owners.values() if url and not trust.is_here(url)})
        if not urls or not trust.shared:
            return
        body = json.dumps({"revoke": session.session_id, "expires": session.expires}).encode()
        as_worker = access.ForwardAs(trust, None, "POST", "/signout")

        async def tell(session_: aiohttp.ClientSession, url: str) -> None:
            answer = await workers.ask(session_, url, "/signout", {}, as_worker, body=body)
            if answer.status != 200:
                raise RuntimeError(f"status {answer.status}")

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as client:
            results = await asyncio.gather(*(tell(client, url) for url in urls), return_exceptions=True)
        failed = [type(r).__name__ for r in results if isinstance(r, BaseException)]
        if failed:
            log.warning("a sign-out was not passed on to %d of %d other worker(s) (%s): the session stays valid "
                        "there until it expires", len(failed), len(urls), ", ".join(sorted(set(failed))))

    @access.requires(settings, Role.VIEWER, to_dashboard)
    async def search(request: web.Request, found: Grant) -> web.Response:
        number = request.query.get("number", "").strip()[:MAX_NUMBER_CHARS]
        parsed = parse_recipient(number, settings.default_region) if number else None
        if parsed is None or parsed.e164 is None:
            return html("number.html", 400, number=None, error="That is not a phone number.", timeline=None)
        query = {"account": _account(request)}
        return web.Response(status=303, headers={
            "Location": f"/numbers/{urllib.parse.quote(parsed.e164)}?{urllib.parse.urlencode(query)}"})

    @access.requires(settings, Role.VIEWER, to_dashboard)
    async def timeline(request: web.Request, found: Grant) -> web.Response:
        parsed = parse_recipient(request.match_info["number"][:MAX_NUMBER_CHARS], settings.default_region)
        if parsed.status in (NumberStatus.MISSING, NumberStatus.UNPARSEABLE) or parsed.e164 is None:
            return html("number.html", 400, number=None, error="That is not a phone number.", timeline=None)
        e164, account = parsed.e164, _account(request)
        as_of = request.query.get("as_of", "")[:MAX_AS_OF_CHARS]
        answer = await _history(host, found, e164, account, as_of)
        if answer.get("read_here") and not await access.audit(host, request, found, 1):
            return html("error.html", 503, message="The access could not be recorded on the audit topic now; "
                        "try again.")
        return html("number.html", number=e164, account=account, as_of=as_of, error=answer.get("error"),
                    timeline=answer.get("timeline"), lookup=answer.get("lookup"))

    @access.requires(settings, Role.VIEWER, to_dashboard)
    async def timeline_by_ref(request: web.Request, found: Grant) -> web.Response:
        opened = refs.open(request.match_info["ref"], found)
        if opened is None:
            return html("number.html", 404, number=None, timeline=None, error="This timeline link is not valid "
                        "(any more): the dashboard's links last 15 minutes and are for the token that opened the "
                        "page. Follow one from the dashboard again.")
        e164, account = opened
        answer = await _history(host, found, e164, account, "")
        if answer.get("read_here") and not await _audit_reference(host, request, found, e164, account):
            return html("error.html", 503, message="The access could not be recorded on the audit topic now; "
                        "try again.")
        whole = found.role is Role.ADMIN
        shown = answer if whole else masked_view(answer)
        return html("number.html", number=e164 if whole else mask(e164), account=account if whole else mask(account),
                    as_of="", error=shown.get("error"), timeline=shown.get("timeline"), lookup=shown.get("lookup"),
                    masked=not whole)

    async def static_file(request: web.Request) -> web.Response:
        found = static.get(request.match_info["name"])
        if found is None:
            return error_response(404, "not_found", "no such resource")
        content, digest = found
        suffix = Path(request.match_info["name"]).suffix
        return web.Response(body=content, content_type=CONTENT_TYPES[suffix], headers={
            "Cache-Control": STATIC_CACHE, "ETag": f'"{digest}"', "X-Content-Type-Options": "nosniff"})

    app.router.add_get("/", dashboard)
    app.router.add_post("/signin", signin)
    app.router.add_post("/signout", signout)
    app.router.add_get("/dashboard/panels", panels)
    app.router.add_get("/dashboard/data", data)
    app.router.add_get("/dashboard/worker", worker)
    app.router.add_get("/numbers", search)
    app.router.add_get("/numbers/{number}", timeline)
    app.router.add_get("/numbers/ref/{ref}", timeline_by_ref)
    app.router.add_get("/static/{name:.+}", static_file)


def revoke_passed_on(trust: access.Trust, body: bytes) -> web.Response:
    """Another worker's sign-out (its proof checked): ``{"revoke": <session id>, "expires": <unix s>}``."""
    try:
        asked = json.loads(body)
    except ValueError:
        asked = None
    sid = asked.get("revoke") if isinstance(asked, dict) else None
    expires = asked.get("expires") if isinstance(asked, dict) else None
    if not isinstance(sid, str) or not access.SESSION_ID.fullmatch(sid) or not isinstance(expires, int) \
            or isinstance(expires, bool):
        return error_response(400, "invalid_request", "a sign-out passed on names a session id and its expiry")
    trust.revoke(sid, expires)
    return json_answer({"revoked": True})


async def _audit_reference(host: Host, request: web.Request, found: Grant, number: str, account: str) -> bool:
    """The audit record of a timeline reached by reference (:func:`access.audit`'s, 1 number):
    what was asked is a sealed reference, so the record names the number and account read
    (``reference``), as the path of ``/numbers/{number}`` does. True once the broker took it."""
    record = {**access.audit_record(host.worker_id, request, found, 1, 200),
              "reference": {"number": number, "account_id": account}}
    try:
        await host.publish(Output(host.settings.audit_topic, dumps(record), key=found.token_id.encode()))
    except Exception as exc:  # noqa: BLE001 - any failure: no record, so no timeline
        log.warning("audit record not acknowledged by the broker (%s)", type(exc).__name__)
        return False
    return True


def _account(request: web.Request) -> str:
    return bounded_id(request.query.get("account") or "default", MAX_ACCOUNT_CHARS)


async def _history(host: Host, found: Grant, e164: str, account: str, as_of: str) -> dict:
    """The number's timeline: read here if this worker holds its partition (``read_here``: the
    page records the access), else asked of the worker holding it as a forwarded request
    (that worker records it, as it answers); without the timeline endpoint there, its current state."""
    settings = host.settings
    partition, owner = host.owner_of(e164)
    table = host.local_state(partition)
    if table is not None:
        try:
            moment = parse_time(as_of, "as_of") if as_of else None
        except BadTime as exc:
            return {"error": f"The timeline is not available (400: {exc})"}
        return {"timeline": read_timeline(host, table, e164, account, moment), "read_here": True}
    if owner is None or owner == settings.web_url or (found.trust is not None and found.trust.is_here(owner)):
        return {"error": "The partition holding this number is not ready on any worker yet."}
    params = {"account": account, **({"as_of": as_of} if as_of else {})}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            path = f"/optouts/{e164}/history"
            answer = await workers.ask(session, owner, path, params,
                                       access.forward_headers(settings, found, "GET", path))
            body = _json_or_none(answer)
            if answer.status == 200 and isinstance(body, dict):
                return {"timeline": body}
            if answer.status != 404 or not isinstance(body, dict) or body.get("error") != "not_found":
                detail = body.get("detail") if isinstance(body, dict) else None
                return {"error": f"The timeline is not available ({answer.status}: {detail})"}
            path = f"/optouts/{e164}"  # no timeline endpoint on that worker (yet): the current state
            answer = await workers.ask(session, owner, path, {"account": account},
                                       access.forward_headers(settings, found, "GET", path))
            body = _json_or_none(answer)
            if answer.status == 200 and isinstance(body, dict):
                return {"lookup": body, "error": "The consent timeline is not available on this worker yet; its "
                        "current state is below."}
            return {"error": f"Neither the timeline nor the lookup is available ({answer.status})."}
    except workers.NoClusterSecret:
        return {"error": f"The timeline is not available: {workers.SECRET_MISSING}."}
    except workers.NotAWorker:
        return {"error": "The worker named as holding this number did not answer as a worker of this cluster."}
    except (aiohttp.ClientError, TimeoutError) as exc:
        return {"error": f"The worker holding this number did not answer ({type(exc).__name__})."}


def _json_or_none(answer: workers.Answer) -> Any:
    try:
        return answer.json()
    except ValueError:
        return None
