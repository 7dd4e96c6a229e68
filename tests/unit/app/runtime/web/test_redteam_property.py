"""Red team, as a property over every route a viewer can reach (issue 20, item 12).

For generated requests (any GET route of the application, its path filled with a number of the
table or another, with generated query parameters) made with the viewer token:

- no answer holds a whole phone number of the table other than the one the request named;
- an answer that holds a number of the table, whole or masked, was audited during the request;
- with the audit publish refused, no answer holds a number of the table at all.
"""

from __future__ import annotations

import re
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.app.runtime.web.conftest import audited, exchange, request, viewer
from tests.unit.app.runtime.web.test_optouts_api import OPTED_OUT, states  # noqa: F401 (a fixture)

NUMBERS = sorted({number for number, _ in OPTED_OUT})
STRANGER = "+14155550177"  # in no table
PROPERTY = settings(max_examples=400, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def get_routes(served) -> list[str]:
    """Every GET route's path template (the application as it is served)."""
    from app.runtime.web import make_application

    app = make_application(served.host)
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if route.method == "GET" and path and not path.startswith("/static"):
            found.add(path)
    return sorted(found)


def whole_numbers(text: str) -> set[str]:
    """The table's numbers written whole in ``text`` (E.164, or their digits without the +)."""
    digits = set(re.findall(r"\d{7,15}", text))
    return {n for n in NUMBERS if n in text or n[1:] in digits}


def any_number(text: str) -> bool:
    """A table number whole, or masked to its last four digits next to a run of '*'."""
    return bool(whole_numbers(text)) or any(re.search(r"\*{3,}" + re.escape(n[-4:]), text) for n in NUMBERS)


@st.composite
def requests_(draw, routes: list[str]) -> tuple[str, str | None]:
    template = draw(st.sampled_from(routes))
    asked = draw(st.sampled_from([*NUMBERS, STRANGER]))
    path = re.sub(r"\{[^}]+\}", urllib.parse.quote(asked, safe=""), template)
    named = asked if "{" in template else None
    query: dict[str, str] = {}
    if draw(st.booleans()):
        query["number"] = draw(st.sampled_from([*NUMBERS, STRANGER]))
        named = named or query["number"]
    for name, values in (("mask", ["0", "1"]), ("limit", ["1", "5", "1000"]), ("account", ["acme", "other"]),
                         ("since", ["2026-01-01T00:00:00Z"]), ("until", ["2026-12-31T00:00:00Z"]),
                         ("scope", ["worker", "cluster"]), ("format", ["json", "csv", "zip"])):
        if draw(st.booleans()):
            query[name] = draw(st.sampled_from(values))
    return path + ("?" + urllib.parse.urlencode(query) if query else ""), named


def test_the_routes_walked_are_the_applications(served):
    routes = get_routes(served)
    assert "/optouts/{number}" in routes and "/optouts" in routes and "/evidence" in routes
    assert any(r.startswith("/dashboard") for r in routes)


@pytest.mark.usefixtures("states")  # the table of test_optouts_api
@pytest.mark.parametrize("refused", [False, True], ids=["audit-published", "audit-refused"])
def test_no_viewer_answer_holds_a_whole_number_it_did_not_ask_for_and_every_one_is_audited(served, fake, refused):
    routes = get_routes(served)

    @PROPERTY
    @given(requests_(routes))
    def check(req):
        path, named = req
        fake.published.clear()
        fake.refuse_publish = refused
        try:
            reply = exchange(served.port, request("GET", path, headers=viewer()))
        finally:
            fake.refuse_publish = False
        text = reply.body.decode("utf-8", "replace")
        if reply.headers.get("content-type", "").startswith("application/zip"):
            import io
            import zipfile

            with zipfile.ZipFile(io.BytesIO(reply.body)) as packet:
                text = "\n".join(packet.read(name).decode("utf-8", "replace") for name in packet.namelist())
        leaked = whole_numbers(text) - {named}
        assert not leaked, (path, reply.status, sorted(leaked))
        if refused:
            assert not any_number(text), (path, reply.status, text[:300])
        elif any_number(text):
            assert audited(fake.published), (path, reply.status, "holds a number without an audit record")

    check()
