"""Every route of the worker's application is behind the access check (:func:`access.requires`)
but the public ones listed here: a route added without it fails this test, and so does a
public route that is no longer there (the list stays the list of what is open)."""

from __future__ import annotations

import re

import pytest

from app.runtime.web import access
from app.runtime.web.access import Role
from tests.unit.app.runtime.web.conftest import exchange, request, viewer
from tests.unit.app.runtime.web.test_http import error

PUBLIC = {  # no token: no numbers, no action
    ("GET", "/health"),
    ("GET", "/stats"),
    ("GET", "/metrics"),
    ("GET", "/livez"),
    ("GET", "/readyz"),
    ("POST", "/signin"),  # the token is what it takes (same origin only)
    ("POST", "/signout"),
    ("GET", "/static/{name}"),
    ("GET", "/openapi.json"),  # the API's description: no number in it
}
ADMIN = {("POST", "/optouts"), ("POST", "/reviews/{review_id}")}


def routes(app) -> dict[tuple[str, str], Role | None]:
    """(method, path) -> the role its handler requires (None: public); HEAD is its GET's handler."""
    found: dict[tuple[str, str], Role | None] = {}
    for route in app.router.routes():
        assert route.resource is not None, route
        method = "GET" if route.method == "HEAD" else route.method
        key = (method, route.resource.canonical)
        role = access.required_role(route.handler)
        assert found.setdefault(key, role) == role, f"{key}: its GET and HEAD handlers differ"
    return found


@pytest.fixture
def app(served):
    return served.access.app  # the application make_application builds, as the worker serves it


def test_every_route_but_the_public_ones_is_behind_the_access_check(app):
    found = routes(app)
    open_routes = {key for key, role in found.items() if role is None}
    assert open_routes - PUBLIC == set(), "routes without @access.requires (or add them to PUBLIC, if they must be)"
    assert PUBLIC - open_routes == set(), "public routes that are gone or now behind the check: update PUBLIC"
    assert {key for key, role in found.items() if role is Role.ADMIN} == ADMIN


def test_an_unmarked_handler_is_seen_as_public():
    async def handler(request):
        return None

    assert access.required_role(handler) is None
    assert access.required_role(access.requires(None, Role.ADMIN)(lambda request, found: None)) is Role.ADMIN


def guarded(app, role: Role | None = None) -> list[tuple[str, str]]:
    return sorted(key for key, required in routes(app).items()
                  if required is not None and (role is None or required is role))


def target(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "x", path)  # not a number, not an id: the token is checked first


def test_without_a_token_no_guarded_handler_runs(app, served, fake):
    for method, path in guarded(app):
        reply = exchange(served.port, request(method, target(path)))
        if reply.status == 303:  # the dashboard's pages: to the dashboard
            assert reply.headers["location"] == "/", path
        elif reply.headers["content-type"].startswith("text/html"):  # the dashboard: the sign-in form
            assert reply.status == 200 and 'name="token"' in reply.body.decode(), (path, reply.status)
        else:
            error(reply, 401, "unauthorized")
    assert fake.published == []  # nothing done, nothing audited


def test_a_viewer_cannot_reach_what_needs_the_admin_token(app, served, fake):
    for method, path in guarded(app, Role.ADMIN):
        error(exchange(served.port, request(method, target(path), headers=viewer())), 403, "forbidden")
    assert fake.published == []
