"""The HTTP API's OpenAPI 3.1 document, generated from the models of its requests and answers
(:mod:`app.runtime.web.api_models`, the bodies of ``schemas/operator.py``, the ``GET /stats``
contract of :mod:`app.reports.stats_contract`): no JSON schema is written by hand here, only
which route answers which model (:data:`ROUTES`).

    GET /openapi.json                                    served by every worker (open: no number in it)
    python -m app.runtime.web.openapi > docs/http/openapi.json   the committed copy
    python -m app.runtime.web.openapi --check            exit 1 if docs/http/openapi.json is not up to date

tests/unit/app/runtime/web/test_openapi.py checks that :data:`ROUTES` is the application's
router (every route, its methods, and the role :func:`access.requires` gives its handler),
that the committed copy is this document, that real answers validate against it, and that
every JSON answer shown in docs/http/*.md does.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from app.reports.stats_contract import StatsAnswer
from app.runtime.web import api_models as m
from app.runtime.web.access import Role
from app.runtime.web.errors import json_answer
from schemas.operator import OperatorOptOut, ReviewDecision

if TYPE_CHECKING:
    from app.runtime.host import Host

API_VERSION = "1.0.0"  # of this document's shapes (not the package's version)
COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "http" / "openapi.json"
REF = "#/components/schemas/{model}"
JSON_TYPE = "application/json"
HTML_TYPE = "text/html"


@dataclass(frozen=True)
class Content:
    """A body: its media type and the type it holds (a model, a TypedDict, ``str``, ``bytes``)."""

    media: str
    shape: Any


@dataclass(frozen=True)
class Answer:
    description: str
    content: tuple[Content, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()  # (name, description)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    summary: str
    tag: str
    role: Role | None  # None: public
    answers: dict[int, Answer]
    description: str = ""
    path_params: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    body: Content | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def json_(shape: Any, description: str, *headers: tuple[str, str]) -> Answer:
    return Answer(description, (Content(JSON_TYPE, shape),), headers)


def page(description: str) -> Answer:
    return Answer(description, (Content(HTML_TYPE, str),))


def error(description: str, *headers: tuple[str, str]) -> Answer:
    return json_(m.ErrorAnswer, description, *headers)


def to(where: str) -> Answer:
    return Answer(f"See Other: to {where}", headers=(("Location", where),))


UNAUTHORIZED = error("unauthorized: no valid token or session cookie", ("WWW-Authenticate", "Bearer"))
FORBIDDEN = error("forbidden: no token is configured for what is asked (or, with a session cookie acting, "
                  "not from this dashboard's page)")
ADMIN_ONLY = error("forbidden: this needs the admin token (or no token is configured)")
AUDIT_OR_UNAVAILABLE = error("unavailable: the audit record could not be written, or a partition is not ready "
                             "on any worker (ask again)")
TOO_BUSY = error("too_busy: as many scans as a worker allows run now", ("Retry-After", "seconds"))
BAD = error("a parameter cannot be used (error names it: invalid_number, invalid_limit, ...)")
SIGN_IN_PAGE = {200: page("not signed in: the sign-in form"),
                403: page("no token is configured: the dashboard is disabled")}
TO_DASHBOARD = {303: to("/ (the sign-in form), without a valid token or session")}


def viewer(answers: dict[int, Answer]) -> dict[int, Answer]:
    return {**answers, 401: UNAUTHORIZED, 403: answers.get(403, FORBIDDEN)}


ROUTES: tuple[Route, ...] = (
    # -------------------------------------------------------- consent
    Route("GET", "/optouts/{number}", "The state a send to the number would meet", "consent", Role.VIEWER,
          viewer({200: json_(m.LookupAnswer, "the state (opted_out false: nothing recorded, or opted back in)"),
                  400: BAD, 503: AUDIT_OR_UNAVAILABLE}),
          "Any worker answers (one that does not hold the number's partition forwards the request). "
          "Audited: 1 number.", path_params=m.NumberPath, query=m.AccountQuery),
    Route("GET", "/optouts/{number}/history", "A number's consent timeline", "consent", Role.VIEWER,
          viewer({200: json_(m.TimelineAnswer, "the state and every consent event, oldest first"),
                  400: BAD, 503: AUDIT_OR_UNAVAILABLE}),
          "docs/http/timeline.md. Audited: 1 number.", path_params=m.NumberPath, query=m.HistoryQuery),
    Route("POST", "/optouts", "Record an opt-out on a contact's behalf (operator)", "consent", Role.ADMIN,
          {202: json_(m.OptOutAccepted, "recorded on the consent path (the broker took it)"),
           400: BAD, 401: UNAUTHORIZED, 403: ADMIN_ONLY,
           503: error("unavailable: the broker did not take it (nothing recorded; try again)")},
          "There is no way to opt anyone back in: only the contact can, by replying START.",
          body=Content(JSON_TYPE, OperatorOptOut)),
    Route("GET", "/optouts", "A page of opted-out numbers", "listing", Role.VIEWER,
          viewer({200: json_(m.ListingAnswer, "a page; next_cursor null when the listing is complete"),
                  400: BAD, 403: error("forbidden: mask=0 without the admin token, or no token configured"),
                  429: TOO_BUSY, 503: AUDIT_OR_UNAVAILABLE}),
          "Every partition on every worker, in a stable order (docs/http/listing.md). Audited with the count "
          "of numbers returned.", query=m.ListingQuery),
    Route("GET", "/optouts.csv", "Every matching opted-out number, streamed as CSV", "listing", Role.VIEWER,
          viewer({200: Answer("the CSV (number, account_id, opted_out_at, source, rule, matched, message_id); "
                              "a connection broken before its end is not a complete file",
                              (Content("text/csv", str),), (("Content-Disposition", "attachment"),)),
                  400: BAD, 403: error("forbidden: mask=0 without the admin token, or no token configured"),
                  429: TOO_BUSY, 503: AUDIT_OR_UNAVAILABLE}),
          "Audited before the first byte (a started record) and at the end (rows sent).", query=m.ExportQuery),
    Route("GET", "/evidence", "An evidence packet: a number's, or a period's (admin)", "evidence", Role.VIEWER,
          viewer({200: Answer("the packet (docs/evidence.md)", (Content("application/zip", bytes),),
                              (("Content-Disposition", "attachment"),)),
                  400: BAD, 403: error("forbidden: a period's packet needs the admin token"),
                  413: error("too_many_numbers: ask for a shorter period or one account"), 429: TOO_BUSY,
                  503: AUDIT_OR_UNAVAILABLE}),
          "number= (with account=), or since= and until=.", query=m.EvidenceQuery),
    # -------------------------------------------------------- reviews
    Route("GET", "/reviews", "Pending review items, nearest deadline first", "reviews", Role.VIEWER,
          viewer({200: json_(m.ReviewsAnswer, "a page"), 400: BAD, 503: AUDIT_OR_UNAVAILABLE}),
          "Every partition on every worker. Audited with the count of items.", query=m.ReviewsQuery),
    Route("POST", "/reviews/{review_id}", "Decide a queued reply (opt out, or dismiss)", "reviews", Role.ADMIN,
          {202: json_(m.ReviewAccepted, "the decision was taken by the broker"),
           200: json_(m.ReviewAlreadyDecided, "decided before: nothing done"),
           400: BAD, 401: UNAUTHORIZED, 403: ADMIN_ONLY, 404: error("not_found: no review item has this id"),
           503: error("unavailable: the partition is not ready, or the broker did not take the decision")},
          "There is no decision that opts anyone in.", path_params=m.ReviewPath,
          body=Content(JSON_TYPE, ReviewDecision)),
    # -------------------------------------------------------- figures and probes (open)
    Route("GET", "/stats", "The cluster's compliance figures (or this worker's counters)", "figures", None,
          {200: json_(StatsAnswer | m.WorkerStats, "the figures (docs/http/stats.md)"), 400: BAD,
           503: error("unavailable: a partition is on no worker now (never a partial total)")},
          "No phone number (account names with their digits masked).", query=m.StatsQuery),
    Route("GET", "/metrics", "Prometheus metrics", "figures", None,
          {200: Answer("the Prometheus text format", (Content("text/plain", str),))}),
    Route("GET", "/health", "Health: ready, or why not", "figures", None,
          {200: json_(m.HealthAnswer, "ready"), 503: json_(m.HealthAnswer, "not ready: the problems")}),
    Route("GET", "/livez", "Liveness probe", "figures", None,
          {200: json_(m.LivezAnswer, "alive"), 503: json_(m.LivezAnswer, "stuck: tasks fenced and not reopened")}),
    Route("GET", "/readyz", "Readiness probe (stays ready through a short rebalance)", "figures", None,
          {200: json_(m.ReadyzAnswer, "ready"), 503: json_(m.ReadyzAnswer, "not ready: why")}),
    Route("GET", "/openapi.json", "This document", "figures", None,
          {200: json_(dict[str, Any], "the OpenAPI 3.1 document (no number in it)")}),
    # -------------------------------------------------------- the dashboard
    Route("GET", "/", "The dashboard (or the sign-in form)", "dashboard", Role.VIEWER,
          {200: page("the dashboard; not signed in, the sign-in form"),
           403: page("no token is configured: the dashboard is disabled"),
           503: page("the audit record could not be written")},
          "Audited with the numbers its lists show (masked)."),
    Route("POST", "/signin", "Sign in: a token in a form field, for a session cookie", "dashboard", None,
          {303: Answer("signed in: to /, with the session cookie (HttpOnly, SameSite=Strict)",
                       headers=(("Location", "/"), ("Set-Cookie", "the session cookie"))),
           400: page("not the sign-in form"), 401: page("a wrong token: the form again"),
           403: Answer("not from this dashboard's own page (JSON error), or no token configured (a page)",
                       (Content(JSON_TYPE, m.ErrorAnswer), Content(HTML_TYPE, str)))},
          "Only from a page of the same origin (Origin, or else Referer).",
          body=Content("application/x-www-form-urlencoded", m.SigninForm)),
    Route("POST", "/signout", "Sign out: the session revoked here and on the workers this one knows", "dashboard",
          None, {303: Answer("to /, the cookie cleared", headers=(("Location", "/"),)),
                 200: json_(m.RevokedAnswer, "another worker passed a sign-out on (its proof checked)"),
                 400: error("a sign-out passed on by a worker that names no session"),
                 403: error("forbidden: not from this dashboard's own page")},
          "Only from a page of the same origin."),
    Route("GET", "/dashboard/panels", "The dashboard's panels, as an HTML fragment", "dashboard", Role.VIEWER,
          viewer({200: page("the panels (the page refreshes itself with them)"), 503: AUDIT_OR_UNAVAILABLE}),
          "Audited as the dashboard is."),
    Route("GET", "/dashboard/data", "The dashboard's data", "dashboard", Role.VIEWER,
          viewer({200: json_(m.DashboardData, "what the panels show (numbers masked)"),
                  503: AUDIT_OR_UNAVAILABLE}),
          "Audited with numbers_shown."),
    Route("GET", "/dashboard/worker", "This worker's part of the pipeline health", "dashboard", Role.VIEWER,
          viewer({200: json_(m.WorkerReport, "no number")})),
    Route("GET", "/numbers", "The search box: to the number's timeline page", "dashboard", Role.VIEWER,
          {**TO_DASHBOARD, 303: to("/numbers/{E.164}?account= (or / without a valid token)"),
           400: page("not a phone number")}, query=m.SearchQuery),
    Route("GET", "/numbers/{number}", "A number's timeline page", "dashboard", Role.VIEWER,
          {**TO_DASHBOARD, 200: page("the timeline (the number as searched for)"), 400: page("not a phone number"),
           503: page("the audit record could not be written")},
          "Audited: 1 number (by the worker holding it, when another does).", path_params=m.NumberPath,
          query=m.TimelinePageQuery),
    Route("GET", "/numbers/ref/{ref}", "The timeline page a row of the recent outcomes panel links to",
          "dashboard", Role.VIEWER,
          {**TO_DASHBOARD, 200: page("the timeline: the number masked for a viewer, whole for the admin"),
           404: page("not a reference of this cluster for this token, or expired (15 minutes)"),
           503: page("the audit record could not be written")},
          "The number is sealed in the reference, never in the page that links to it. Audited: 1 number.",
          path_params=m.RefPath),
    Route("GET", "/static/{name}", "The dashboard's scripts and styles", "dashboard", None,
          {200: Answer("the file (Cache-Control: immutable; the pages name it with ?v=<hash>)",
                       (Content("text/javascript", str), Content("text/css", str))),
           404: error("not_found: no such file")}, path_params=m.StaticPath),
)


# ------------------------------------------------------------ the document


def _shapes() -> dict[str, Any]:
    """Every body's shape, by a key of its own."""
    shapes: dict[str, Any] = {}
    for route in ROUTES:
        for status, answer in route.answers.items():
            for content in answer.content:
                shapes[_key(route, str(status), content.media)] = content.shape
        if route.body is not None:
            shapes[_key(route, "body", route.body.media)] = route.body.shape
    return shapes


def _key(route: Route, what: str, media: str) -> str:
    return f"{route.method} {route.path} {what} {media}"


def _plain(schema: dict) -> dict:
    """A parameter's schema: without its title, default and the null of ``X | None``."""
    schema = {k: v for k, v in schema.items() if k not in ("title", "default")}
    options = schema.pop("anyOf", None)
    if options is not None:
        kept = [o for o in options if o != {"type": "null"}]
        schema = {**kept[0], **schema} if len(kept) == 1 else {"anyOf": kept, **schema}
    return schema


def _parameters(model: type[BaseModel] | None, where: str, schemas: dict[str, dict]) -> list[dict]:
    if model is None:
        return []
    properties = schemas[model.__name__].get("properties", {})
    out = []
    for name, info in model.model_fields.items():
        schema = _plain(properties[name])
        description = schema.pop("description", info.description)
        out.append({"name": name, "in": where, "required": where == "path" or info.is_required(),
                    "description": description, "schema": schema})
    return out


def _answer(answer: Answer, route: Route, status: int, schemas: dict[str, dict]) -> dict:
    out: dict[str, Any] = {"description": answer.description}
    if answer.headers:
        out["headers"] = {name: {"description": text, "schema": {"type": "string"}} for name, text in answer.headers}
    if answer.content:
        out["content"] = {c.media: {"schema": schemas[_key(route, str(status), c.media)]} for c in answer.content}
    return out


@cache
def document() -> dict:
    """The OpenAPI 3.1 document of every route (made once)."""
    shapes = _shapes()
    made, defs = TypeAdapter.json_schemas([(key, "validation", TypeAdapter(shape)) for key, shape in shapes.items()],
                                          ref_template=REF)
    schemas = {key: schema for (key, _), schema in made.items()}
    for params in {r.path_params for r in ROUTES} | {r.query for r in ROUTES}:  # inline: not components
        if params is not None:
            schemas[params.__name__] = params.model_json_schema()
    paths: dict[str, dict] = {}
    for route in ROUTES:
        operation: dict[str, Any] = {
            "operationId": _operation_id(route), "summary": route.summary, "tags": [route.tag],
            "security": [{"bearer": []}, {"session": []}] if route.role else [],
        }
        if route.role is not None:
            operation["x-required-role"] = route.role.value
        if route.description:
            operation["description"] = route.description
        parameters = _parameters(route.path_params, "path", schemas) + _parameters(route.query, "query", schemas)
        if parameters:
            operation["parameters"] = parameters
        if route.body is not None:
            operation["requestBody"] = {"required": True, "content": {
                route.body.media: {"schema": schemas[_key(route, "body", route.body.media)]}}}
        answers = sorted(route.answers.items())
        operation["responses"] = {
            **{str(status): _answer(answer, route, status, schemas) for status, answer in answers},
            "default": {"description": "any other error: JSON, {error, detail}",
                        "content": {JSON_TYPE: {"schema": {"$ref": REF.format(model="ErrorAnswer")}}}},
        }
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    components = dict(sorted(defs.get("$defs", {}).items()))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SMS opt-out worker",
            "version": API_VERSION,
            "description": "The HTTP API every worker serves (docs/http/). Routes behind a token take "
                           "'Authorization: Bearer <OPTOUT_VIEWER_TOKEN or OPTOUT_ADMIN_TOKEN>' or the dashboard's "
                           "session cookie; x-required-role says which (viewer: either token; admin: the admin "
                           "token). Every answer that holds numbers is audited on sms.audit before it is sent. "
                           "Every GET but /optouts and /optouts.csv also answers HEAD. Generated from the models "
                           "of app/runtime/web/api_models.py (python -m app.runtime.web.openapi).",
        },
        "tags": [{"name": name} for name in dict.fromkeys(r.tag for r in ROUTES)],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "OPTOUT_VIEWER_TOKEN (reads) or OPTOUT_ADMIN_TOKEN (reads and acts)"},
                "session": {"type": "apiKey", "in": "cookie", "name": "optout_session",
                            "description": "the dashboard's session cookie (POST /signin); __Host-optout_session "
                                           "with OPTOUT_WEB_COOKIE_SECURE. It acts only from this origin, with a "
                                           "JSON body."},
            },
        },
    }


def _operation_id(route: Route) -> str:
    words = [w.strip("{}").replace(".", "_") for w in route.path.split("/") if w]
    return "_".join([route.method.lower(), *(words or ["root"])])


def rendered() -> str:
    """The document as the committed file holds it."""
    return json.dumps(document(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def register(app: web.Application, host: Host) -> None:
    async def openapi(request: web.Request) -> web.Response:
        return json_answer(document(), headers={"Cache-Control": "no-cache"})

    app.router.add_get("/openapi.json", openapi)


def main(argv: list[str]) -> int:
    text = rendered()
    if "--check" in argv:
        if not COMMITTED.exists() or COMMITTED.read_text(encoding="utf-8") != text:
            print(f"{COMMITTED} is not the document the models make: run "
                  "`python -m app.runtime.web.openapi > docs/http/openapi.json`", file=sys.stderr)
            return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
