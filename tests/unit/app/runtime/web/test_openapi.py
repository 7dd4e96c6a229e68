"""The OpenAPI 3.1 document (issue "The first five minutes", item 4): every route of the
application is in it, with its methods and the role its handler requires; the committed copy
(docs/http/openapi.json) is what the models make; the worker serves it to anyone; real answers
of the handlers validate against it; and so does every JSON answer shown in docs/http/*.md
(each ```json block there follows a line ``<!-- answer: METHOD /path STATUS -->``, or
``<!-- not an answer: ... -->`` for JSON that is not an answer of a route; a plain ``` block
marked as an answer is a shell transcript: its ``$ `` command lines, then the answer)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from app.runtime.web import openapi
from app.stream import review_queue
from tests.unit.app.runtime.web.conftest import audited, auth, exchange, request, viewer
from tests.unit.app.runtime.web.test_optouts_api import states as listing_states  # noqa: F401 - a fixture
from tests.unit.app.runtime.web.test_reviews_api import item
from tests.unit.app.runtime.web.test_routes import routes
from tests.unit.app.runtime.web.test_timeline_api import NUMBER, PATH
from tests.unit.app.runtime.web.test_timeline_api import table as timeline_table  # noqa: F401 - a fixture

try:  # the document's own schemas, checked as JSON Schema 2020-12 (OpenAPI 3.1's dialect)
    import jsonschema
except ImportError:  # pragma: no cover - then the models alone check the answers
    jsonschema = None

REPO = Path(__file__).resolve().parents[5]
DOCS = REPO / "docs" / "http"
DOC = openapi.document()
MARKER = re.compile(r"<!-- (?:answer: (?P<method>[A-Z]+) (?P<path>/\S*) (?P<status>\d{3})|not an answer: .+) -->")
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>\w*)\s*$")


# ------------------------------------------------------------ the document and the router


def documented() -> dict[tuple[str, str], str | None]:
    return {(method.upper(), path): operation.get("x-required-role")
            for path, operations in DOC["paths"].items() for method, operation in operations.items()}


def test_every_route_of_the_application_is_in_the_document_with_its_methods_and_role(served):
    found = routes(served.access.app)  # (method, path) -> role, HEAD as its GET (test_routes.py)
    assert set(found) - set(documented()) == set(), "routes the document lacks: declare them in openapi.ROUTES"
    assert set(documented()) - set(found) == set(), "documented routes the application does not have"
    for key, role in found.items():
        assert documented()[key] == (role.value if role else None), key
        operation = DOC["paths"][key[1]][key[0].lower()]
        assert operation["security"] == ([] if role is None else [{"bearer": []}, {"session": []}]), key


def test_every_path_parameter_is_declared_and_operations_are_named_once():
    ids = [op["operationId"] for ops in DOC["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    for path, operations in DOC["paths"].items():
        named = set(re.findall(r"\{(\w+)\}", path))
        for operation in operations.values():
            params = operation.get("parameters", [])
            assert {p["name"] for p in params if p["in"] == "path"} == named, path
            assert all(p["required"] for p in params if p["in"] == "path")
            assert len({(p["name"], p["in"]) for p in params}) == len(params), path
            assert "default" in operation["responses"] and operation["responses"]


def refs(value: Any) -> set[str]:
    if isinstance(value, dict):
        return ({value["$ref"]} if "$ref" in value else set()) | {r for v in value.values() for r in refs(v)}
    if isinstance(value, list):
        return {r for v in value for r in refs(v)}
    return set()


def test_every_reference_resolves_and_every_schema_is_json_schema_2020_12():
    schemas = DOC["components"]["schemas"]
    assert {r.rsplit("/", 1)[-1] for r in refs(DOC)} <= set(schemas)
    assert all(r.startswith("#/components/schemas/") for r in refs(DOC))
    assert DOC["openapi"] == "3.1.0" and DOC["info"]["version"]
    assert "OperatorOptOut" in schemas and "StatsAnswer" in schemas and "DashboardData" in schemas
    if jsonschema is not None:
        for name, schema in schemas.items():
            jsonschema.Draft202012Validator.check_schema(schema)


def test_the_committed_document_is_up_to_date():
    assert openapi.COMMITTED == DOCS / "openapi.json"
    assert openapi.COMMITTED.read_text(encoding="utf-8") == openapi.rendered(), (
        "docs/http/openapi.json is stale: python -m app.runtime.web.openapi > docs/http/openapi.json")
    assert openapi.main(["--check"]) == 0


def test_the_command_writes_the_document():
    done = subprocess.run([sys.executable, "-m", "app.runtime.web.openapi"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and done.stdout == openapi.rendered(), done.stderr
    assert done.stderr == ""


def test_the_worker_serves_it_to_anyone(served, fake):
    reply = exchange(served.port, request("GET", "/openapi.json"))
    assert reply.status == 200 and reply.headers["content-type"].startswith("application/json")
    assert reply.json() == json.loads(openapi.rendered())
    assert not audited(fake.published)


# ------------------------------------------------------------ answers against the document


def shape_of(method: str, path: str, status: int, media: str) -> Any:
    """The type the route declares for this answer (the model the schema was made from)."""
    route = next(r for r in openapi.ROUTES if (r.method, r.path) == (method, path))
    answer = route.answers.get(status)
    if answer is None:
        assert status >= 400, f"{method} {path}: {status} is not declared"
        return openapi.m.ErrorAnswer
    return next(c.shape for c in answer.content if c.media == media)


def schema_of(method: str, path: str, status: int, media: str) -> dict:
    responses = DOC["paths"][path][method.lower()]["responses"]
    declared = responses.get(str(status))
    if declared is None:
        assert status >= 400, f"{method} {path}: {status} is not declared"
        declared = responses["default"]
    assert media in declared.get("content", {}), (method, path, status, media)
    return declared["content"][media]["schema"]


def conforms(value: Any, raw: bytes | None, method: str, path: str, status: int) -> None:
    """``value`` (an answer's JSON) validates against the document's schema and its model."""
    schema = schema_of(method, path, status, "application/json")
    if jsonschema is not None:
        jsonschema.Draft202012Validator({**schema, "components": DOC["components"]}).validate(value)
    adapter = TypeAdapter(shape_of(method, path, status, "application/json"))
    adapter.validate_json(raw if raw is not None else json.dumps(value), strict=True)


def check(served, method: str, template: str, target: str, headers: dict | None = None, body: bytes = b"",
          status: int | None = None) -> Any:
    reply = exchange(served.port, request(method, target, headers=headers, body=body))
    if status is not None:
        assert reply.status == status, (target, reply.status, reply.body[:300])
    media = reply.headers.get("content-type", "").split(";")[0]
    if media == "application/json":
        conforms(reply.json(), reply.body, method, template, reply.status)
        return reply.json()
    responses = DOC["paths"][template][method.lower()]["responses"]
    declared = responses.get(str(reply.status), {})
    assert media in declared.get("content", {}) or (not reply.body and not declared.get("content")), (
        target, reply.status, media)
    return reply


ADMIN_JSON = {**auth(), "Content-Type": "application/json"}


@pytest.mark.usefixtures("timeline_table")
def test_the_handlers_answers_validate_against_the_document(served, fake):
    check(served, "GET", "/health", "/health", status=200)
    check(served, "GET", "/livez", "/livez", status=200)
    check(served, "GET", "/readyz", "/readyz")
    check(served, "GET", "/stats", "/stats?scope=worker", status=200)
    check(served, "GET", "/stats", "/stats?scope=nothing", status=400)
    check(served, "GET", "/metrics", "/metrics", status=200)
    check(served, "GET", "/openapi.json", "/openapi.json", status=200)
    check(served, "GET", "/optouts/{number}", f"/optouts/{NUMBER.replace('+', '%2B')}?account=acme", viewer(), status=200)
    check(served, "GET", "/optouts/{number}", "/optouts/4155550199", viewer(), status=200)  # nothing known
    check(served, "GET", "/optouts/{number}", "/optouts/not-a-number", viewer(), status=400)
    check(served, "GET", "/optouts/{number}/history", PATH + "?account=acme", viewer(), status=200)
    check(served, "GET", "/optouts/{number}/history", PATH + "?account=acme&as_of=2026-03-02T09:30:00Z", viewer(),
          status=200)
    check(served, "GET", "/optouts/{number}/history", PATH, status=401)
    check(served, "POST", "/optouts", "/optouts", ADMIN_JSON, json.dumps(
        {"number": "+14155550178", "reason": "asked by phone", "requested_by": "agent-7"}).encode(), status=202)
    check(served, "POST", "/optouts", "/optouts", ADMIN_JSON, b'{"number": 5}', status=400)
    check(served, "POST", "/optouts", "/optouts", {**viewer(), "Content-Type": "application/json"}, b"{}",
          status=403)
    check(served, "GET", "/dashboard/worker", "/dashboard/worker", viewer(), status=200)
    check(served, "GET", "/dashboard/data", "/dashboard/data", viewer(), status=200)
    check(served, "GET", "/dashboard/panels", "/dashboard/panels", viewer(), status=200)
    check(served, "GET", "/", "/", status=200)  # the sign-in form
    check(served, "GET", "/numbers/{number}", "/numbers/x", status=303)
    check(served, "GET", "/numbers/ref/{ref}", "/numbers/ref/x", viewer(), status=404)
    check(served, "GET", "/static/{name}", "/static/dashboard.js", status=200)
    check(served, "GET", "/static/{name}", "/static/nothing.js", status=404)
    check(served, "GET", "/evidence", "/evidence", viewer(), status=400)


def test_the_review_answers_validate_against_the_document(served, fake):
    fake.table.clear()
    try:
        assert review_queue.enqueue(fake.table, item("+14155550179", "r-openapi-1", 1_000), 100)
        listing = check(served, "GET", "/reviews", "/reviews?limit=5", viewer(), status=200)
        assert len(listing["items"]) == 1
        rid = listing["items"][0]["review_id"]
        check(served, "POST", "/reviews/{review_id}", f"/reviews/{rid}", ADMIN_JSON,
              json.dumps({"decision": "dismiss", "decided_by": "agent-7"}).encode(), status=202)
        check(served, "POST", "/reviews/{review_id}", "/reviews/nothing", ADMIN_JSON, b"{}", status=404)
        check(served, "GET", "/reviews", "/reviews?limit=0", viewer(), status=400)
    finally:
        fake.table.clear()


@pytest.mark.usefixtures("listing_states")
def test_the_listing_answers_validate_against_the_document(served, fake):
    page = check(served, "GET", "/optouts", "/optouts?limit=3", viewer(), status=200)
    assert page["next_cursor"] and len(page["items"]) == 3
    whole = check(served, "GET", "/optouts", "/optouts?mask=0&source=import", auth(), status=200)
    assert whole["items"] and whole["next_cursor"] is None
    check(served, "GET", "/optouts", "/optouts?mask=0", viewer(), status=403)
    reply = check(served, "GET", "/optouts.csv", "/optouts.csv?limit=2", viewer(), status=200)
    assert b"number,account_id" in reply.body  # (chunked)


# ------------------------------------------------------------ the examples of docs/http/*.md


def examples() -> list[tuple[str, int, re.Match | None, str]]:
    """Every ```json block of docs/http/*.md, and every other block marked as an answer: (file,
    line, its marker, its text without the transcript's command lines)."""
    found = []
    for path in sorted(DOCS.glob("*.md")):
        lines = path.read_text(encoding="utf-8").splitlines()
        n = 0
        while n < len(lines):
            fence = FENCE.match(lines[n])
            if fence is None:
                n += 1
                continue
            end = next(k for k in range(n + 1, len(lines)) if lines[k].strip() == "```")
            before = next((lines[k].strip() for k in range(n - 1, -1, -1) if lines[k].strip()), "")
            marker = MARKER.fullmatch(before)
            if fence["lang"] == "json" or marker is not None:
                text = "\n".join(line for line in lines[n + 1:end] if not line.lstrip().startswith("$ "))
                found.append((path.name, n + 1, marker, text))
            n = end + 1
    return found


def test_every_json_example_is_marked():
    found = examples()
    unmarked = [f"{name}:{line}" for name, line, marker, _ in found if marker is None]
    assert not unmarked, f"```json blocks without <!-- answer: METHOD /path STATUS --> (or not an answer): {unmarked}"
    answers = {(m["method"], m["path"]) for _, _, m, _ in found if m is not None and m["method"]}
    assert {("GET", "/dashboard/data"), ("GET", "/optouts"), ("GET", "/optouts/{number}/history"),
            ("GET", "/stats"), ("GET", "/readyz")} <= answers
    for path in DOCS.glob("*.md"):  # a marker always stands right before its block
        text = path.read_text(encoding="utf-8")
        for marker in re.finditer(r"<!-- (?:answer|not an answer): .*? -->\n", text):
            assert re.match(r"\s*```(json)?\n", text[marker.end():]), f"{path.name}: {marker.group(0)!r}"


ANSWERS = [e for e in examples() if e[2] is not None and e[2]["method"]]


@pytest.mark.parametrize("name,line,marker,text", ANSWERS, ids=[f"{e[0]}:{e[1]}" for e in ANSWERS])
def test_every_json_answer_in_the_docs_validates_against_its_route(name, line, marker, text):
    method, path, status = marker["method"], marker["path"], int(marker["status"])
    assert path in DOC["paths"] and method.lower() in DOC["paths"][path], f"{name}:{line}: no route {method} {path}"
    conforms(json.loads(text), text.encode(), method, path, status)
