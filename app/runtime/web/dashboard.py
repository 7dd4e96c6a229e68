"""The dashboard: server-rendered pages (Jinja2) for people, signed in with a token.

    GET  /                     the dashboard (or the sign-in form when not signed in)
    POST /signin               token in a form field -> session cookie (HttpOnly, SameSite=Strict)
    POST /signout              clears it
    GET  /dashboard/panels     the dashboard's panels, as an HTML fragment (the page refreshes with it)
    GET  /dashboard/data       the same data as JSON
    GET  /dashboard/worker     this worker's part of the pipeline health (no numbers; asked by the others)
    GET  /numbers?number=      the search box: redirects to the number's timeline
    GET  /numbers/{number}     a number's consent timeline (``GET /optouts/{number}/history``) as a table
    GET  /static/{file}        the page's CSS and JavaScript, and the chart library (scripts/vendor_assets.py)

Everything but the sign-in form, ``/signin``, ``/signout`` and ``/static`` needs the viewer or
admin token (:func:`access.requires`: a session cookie or a bearer token); every answer that
shows numbers is audited with how many it shows. Numbers in lists are masked (last 4
digits); the timeline shows the number that was searched for. ``POST /signin`` and
``POST /signout`` are taken only from a page of the same origin (``Origin``, or else
``Referer``, must name this host): a form on another site cannot sign a browser in or out.
Pages carry a Content-Security-Policy allowing only this origin's scripts and styles:
no CDN, no inline script.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import jinja2
from aiohttp import web

from app.domain.numbers import NumberStatus, parse_recipient
from app.runtime.web import access
from app.runtime.web.access import Grant, Role
from app.runtime.web.consent_tail import ConsentTail
from app.runtime.web.dashboard_data import Gatherer, local_worker
from app.runtime.web.errors import error_response, json_answer, read_body
from schemas.inbound import MAX_ACCOUNT_CHARS, bounded_id

if TYPE_CHECKING:
    from app.runtime.host import Host

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
REFRESH_S = 5
MAX_TOKEN_CHARS = 1024
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
    claimed = request.headers.get("Origin")
    if claimed is None:
        claimed = request.headers.get("Referer")
    if not claimed or claimed == "null":
        return False
    try:
        netloc = urllib.parse.urlsplit(claimed).netloc
    except ValueError:
        return False
    return bool(netloc) and netloc.lower() == (request.host or "").lower()


def short_time(value: Any) -> str:
    """An ISO time as ``YYYY-MM-DD HH:MM:SS`` (UTC as recorded); anything else as text."""
    if not isinstance(value, str):
        return "" if value is None else str(value)
    return value[:19].replace("T", " ") if len(value) >= 19 and value[10:11] == "T" else value


def make_templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["short_time"] = short_time
    return env


def register(app: web.Application, host: Host) -> None:
    settings = host.settings
    templates = make_templates()
    static = Static()
    tail = ConsentTail(settings)
    gatherer = Gatherer(host, tail)
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
        fields = urllib.parse.parse_qs((await read_body(request)).decode("utf-8", "replace"), max_num_fields=10)
        supplied = (fields.get("token") or [""])[0].strip()
        role = access.role_of_token(settings, supplied) if 0 < len(supplied) <= MAX_TOKEN_CHARS else None
        if role is None:
            await asyncio.sleep(FAILED_SIGNIN_DELAY_S)
            return signin_page(401, "That token is not valid.")
        answer = web.Response(status=303, headers={"Location": "/", "Cache-Control": "no-store"})
        access.set_session(answer, settings, role)
        return answer

    async def signout(request: web.Request) -> web.Response:
        if not same_origin(request):
            return error_response(403, "forbidden", "sign out from this dashboard's own page")
        answer = web.Response(status=303, headers={"Location": "/", "Cache-Control": "no-store"})
        access.clear_session(answer)
        return answer

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
        if answer.get("shown") and not await access.audit(host, request, found, 1):
            return html("error.html", 503, message="The access could not be recorded on the audit topic now; "
                        "try again.")
        return html("number.html", number=e164, account=account, as_of=as_of, error=answer.get("error"),
                    timeline=answer.get("timeline"), lookup=answer.get("lookup"))

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
    app.router.add_get("/static/{name:.+}", static_file)


def _account(request: web.Request) -> str:
    return bounded_id(request.query.get("account") or "default", MAX_ACCOUNT_CHARS)


async def _history(host: Host, found: Grant, e164: str, account: str, as_of: str) -> dict:
    """The number's timeline from the worker holding it (asked as a forwarded request, so
    it is audited once, here); without the timeline endpoint, its current state."""
    settings = host.settings
    partition, owner = host.owner_of(e164)
    url = settings.web_url if host.local_state(partition) is not None else owner
    if url is None:
        return {"error": "The partition holding this number is not ready on any worker yet."}
    params = {"account": account, **({"as_of": as_of} if as_of else {})}
    quoted = urllib.parse.quote(e164)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            path = f"/optouts/{e164}/history"
            async with session.get(f"{url}/optouts/{quoted}/history", params=params,
                                   headers=access.forward_headers(settings, found, "GET", path)) as resp:
                body = await resp.json()
                if resp.status == 200 and isinstance(body, dict):
                    return {"timeline": body, "shown": True}
                if resp.status != 404 or not isinstance(body, dict) or body.get("error") != "not_found":
                    detail = body.get("detail") if isinstance(body, dict) else None
                    return {"error": f"The timeline is not available ({resp.status}: {detail})"}
            path = f"/optouts/{e164}"  # no timeline endpoint on that worker (yet): the current state
            async with session.get(f"{url}/optouts/{quoted}", params={"account": account},
                                   headers=access.forward_headers(settings, found, "GET", path)) as resp:
                body = await resp.json()
                if resp.status == 200 and isinstance(body, dict):
                    return {"lookup": body, "shown": True,
                            "error": "The consent timeline is not available on this worker yet; its current "
                                     "state is below."}
                return {"error": f"Neither the timeline nor the lookup is available ({resp.status})."}
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return {"error": f"The worker holding this number did not answer ({type(exc).__name__})."}
