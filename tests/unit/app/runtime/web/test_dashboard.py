"""The dashboard's routes on the real web server (no Kafka): sign-in, cookies, CSRF, the
pages and their data behind the tokens, the static files, and no CDN anywhere."""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path

import pytest

from app.runtime.web import access, dashboard
from tests.unit.app.runtime.web.conftest import (
    TOKEN,
    VIEWER_TOKEN,
    Peer,
    Served,
    audited,
    auth,
    exchange,
    request,
    viewer,
)
from tests.unit.app.runtime.web.test_http import error

WEB = Path(dashboard.__file__).parent
NUMBER = "+14155550171"

_port = 0


@pytest.fixture(autouse=True)
def port(served):
    global _port
    _port = served.port


def origin() -> str:
    return "http://127.0.0.1"  # what the requests of these tests say in Host (no port)


def get(path: str, headers: dict | None = None):
    return exchange(_port, request("GET", path, headers=headers))


def post(path: str, body: bytes = b"", headers: dict | None = None):
    return exchange(_port, request("POST", path, headers={
        "Content-Type": "application/x-www-form-urlencoded", **(headers or {})}, body=body))


def signin(token: str, headers: dict | None = None):
    return post("/signin", b"token=" + urllib.parse.quote(token).encode(), {"Origin": origin(), **(headers or {})})


def cookie_of(reply) -> str:
    header = reply.headers["set-cookie"]
    return header.split(";", 1)[0]


def html(reply, status: int = 200) -> str:
    assert reply.status == status, (reply.status, reply.body[:300])
    assert reply.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in reply.headers["content-security-policy"]
    assert reply.headers["x-frame-options"] == "DENY" and reply.headers["cache-control"] == "no-store"
    return reply.body.decode()


# ------------------------------------------------------------ signing in


def test_not_signed_in_the_page_is_the_sign_in_form(fake):
    page = html(get("/"))
    assert '<form method="post" action="/signin"' in page and 'name="token"' in page
    assert "Pipeline health" not in page
    assert not audited(fake.published)


@pytest.mark.parametrize("token", [VIEWER_TOKEN, TOKEN])
def test_signing_in_sets_an_httponly_strict_session_cookie(fake, token):
    reply = signin(token)
    assert reply.status == 303 and reply.headers["location"] == "/"
    header = reply.headers["set-cookie"]
    assert header.startswith(f"{access.COOKIE}=")
    flags = {f.strip().split("=")[0].lower(): f.strip() for f in header.split(";")[1:]}
    assert "httponly" in flags and flags["samesite"] == "SameSite=Strict" and flags["path"] == "Path=/"
    role = "viewer" if token == VIEWER_TOKEN else "admin"
    assert cookie_of(reply).split("=", 1)[1].startswith(f"{role}.")
    assert token not in header

    page = html(get("/", {"Cookie": cookie_of(reply)}))
    assert "Pipeline health" in page and f"signed in as <strong>{role}</strong>" in page
    record = audited(fake.published)[-1]
    assert record["route"] == "/" and record["role"] == role and record["via"] == "cookie"


def test_a_wrong_token_gets_the_form_again_with_a_401_and_is_not_echoed(fake):
    for wrong in ("not-the-token", VIEWER_TOKEN + "x", "", "x" * 5000):
        reply = signin(wrong)
        page = html(reply, 401)
        assert "set-cookie" not in reply.headers
        assert "That token is not valid." in page and 'name="token"' in page
        if wrong:
            assert wrong not in page


def test_a_forged_or_stale_cookie_is_not_signed_in(fake):
    for value in ("viewer.99999999999.00", "admin.1.abc", "garbage", f"viewer.{10**11}.{'0' * 64}"):
        page = html(get("/", {"Cookie": f"{access.COOKIE}={value}"}))
        assert 'action="/signin"' in page
    error(get("/dashboard/data", {"Cookie": f"{access.COOKIE}=viewer.99999999999.00"}), 401, "unauthorized")


@pytest.mark.parametrize("headers", [
    {},  # neither Origin nor Referer
    {"Origin": "http://evil.example"},
    {"Origin": "null"},
    {"Referer": "http://evil.example/page"},
    {"Origin": "http://127.0.0.1:6066"},  # another port: another origin
])
def test_sign_in_and_out_only_from_a_page_of_the_same_origin(fake, headers):
    body = b"token=" + VIEWER_TOKEN.encode()
    for path in ("/signin", "/signout"):
        reply = exchange(_port, request("POST", path, headers={
            "Content-Type": "application/x-www-form-urlencoded", **headers}, body=body))
        error(reply, 403, "forbidden")
        assert "set-cookie" not in reply.headers


def test_a_referer_of_this_origin_is_enough_without_origin(fake):
    reply = post("/signin", b"token=" + VIEWER_TOKEN.encode(), {"Referer": f"{origin()}/"})
    assert reply.status == 303 and reply.headers["set-cookie"].startswith(access.COOKIE)


def test_signing_out_clears_the_cookie(fake):
    reply = post("/signout", headers={"Origin": origin()})
    assert reply.status == 303 and reply.headers["location"] == "/"
    header = reply.headers["set-cookie"]
    assert header.startswith(f'{access.COOKIE}=""') and "Max-Age=0" in header


def test_signing_out_revokes_the_session_here_and_on_the_other_workers(served, fake):
    """The worker that takes the sign-out revokes the session, and passes it on to the workers it
    knows (as a worker: a proof, no token); the access-logged server stands for another worker."""
    cookie = cookie_of(signin(VIEWER_TOKEN))
    other = f"http://127.0.0.1:{served.access_port}"
    saved = dict(served.host.ownership.owners)
    try:
        with Peer(served, lambda request: (200, {"revoked": True})) as third:
            served.host.ownership.owners = {0: served.settings.web_url, 1: other, 2: third.url}
            for port in (_port, served.access_port):
                assert exchange(port, request("GET", "/dashboard/data", headers={"Cookie": cookie})).status == 200
            reply = post("/signout", headers={"Origin": origin(), "Cookie": cookie})
            assert reply.status == 303
            for port in (_port, served.access_port):
                error(exchange(port, request("GET", "/dashboard/data", headers={"Cookie": cookie})), 401)
            (told,) = [seen for seen in third.seen if seen["asked"] == "/signout"]  # (the rest: /dashboard/data)
            assert told["method"] == "POST"
            assert isinstance(told["proved"], access.Forwarded) and told["proved"].role is None
            assert "Cookie" not in told["headers"] and cookie.split("=", 1)[1] not in told["body"].decode()
    finally:
        served.host.ownership.owners = saved
    fresh = cookie_of(signin(VIEWER_TOKEN))  # signing in again: a new session
    assert get("/dashboard/data", {"Cookie": fresh}).status == 200


def test_a_client_cannot_revoke_sessions_as_a_worker_would(fake):
    cookie = cookie_of(signin(VIEWER_TOKEN))
    _, expires, session_id, _ = cookie.split("=", 1)[1].split(".")
    body = json.dumps({"revoke": session_id, "expires": int(expires)}).encode()
    for headers in ({access.FORWARDED: "1"}, {access.FORWARDED: "1", "Origin": origin()}):
        reply = exchange(_port, request("POST", "/signout", headers={**headers, "Content-Type": "application/json"},
                                        body=body))
        assert reply.status in (303, 403)
    assert get("/dashboard/data", {"Cookie": cookie}).status == 200  # still signed in


# ------------------------------------------------------------ tokens


@pytest.mark.parametrize("path", ["/dashboard/data", "/dashboard/panels", "/dashboard/worker"])
def test_the_data_needs_a_token(fake, path):
    error(get(path), 401, "unauthorized")
    error(get(path, auth("wrong")), 401, "unauthorized")
    assert get(path, viewer()).status == 200
    assert get(path, auth()).status == 200


def test_pages_without_a_token_lead_to_the_sign_in_form(fake):
    for path in (f"/numbers/{NUMBER}", f"/numbers?number={NUMBER}"):
        reply = get(path)
        assert reply.status == 303 and reply.headers["location"] == "/"
    assert not audited(fake.published)


@pytest.fixture(scope="module")
def tokenless(logs, tmp_path_factory):
    """A server on which no token is set (settings are frozen: built so from the start)."""
    import app.settings as settings_module

    real = settings_module.Settings
    settings_module.Settings = lambda **kw: real(**{**kw, "admin_token": None, "viewer_token": None})
    try:
        served = Served(tmp_path_factory.mktemp("tokenless"))
    finally:
        settings_module.Settings = real
    yield served
    served.stop()


def test_without_any_token_configured_the_dashboard_is_disabled(tokenless):
    reply = exchange(tokenless.port, request("GET", "/"))
    assert reply.status == 403 and "OPTOUT_VIEWER_TOKEN" in reply.body.decode()
    error(exchange(tokenless.port, request("GET", "/dashboard/data")), 403, "forbidden")
    reply = exchange(tokenless.port, request("POST", "/signin", headers={
        "Origin": f"http://127.0.0.1:{tokenless.port}", "Content-Type": "application/x-www-form-urlencoded"},
        body=b"token=anything"))
    assert reply.status == 403 and "set-cookie" not in reply.headers


# ------------------------------------------------------------ pages and data


def test_the_data_answer_and_its_audit_record(fake):
    fake.published.clear()
    reply = get("/dashboard/data", viewer())
    assert reply.status == 200 and reply.headers["cache-control"] == "no-store"
    data = reply.json()
    assert {"stats", "series", "recent", "reviews", "workers", "numbers_shown"} <= set(data)
    assert data["stats"]["available"] and data["reviews"]["available"]
    assert data["workers"]["items"][0]["ready"] is True
    assert data["recent"]["available"] is False  # no broker here: shown as not available
    record = audited(fake.published)[-1]
    assert record["route"] == "/dashboard/data" and record["numbers_returned"] == data["numbers_shown"]


def test_review_items_are_shown_masked_and_counted_in_the_audit(fake):
    from app.stream import review_queue
    from tests.unit.app.runtime.web.test_reviews_api import item

    fake.table.clear()
    try:
        assert review_queue.enqueue(fake.table, item(NUMBER, "r-dash-1", 1_000), 100)
        fake.published.clear()
        panels = html(get("/dashboard/panels", viewer()))
        assert "*******0171" in panels and NUMBER not in panels and "stop this bill" in panels
        assert audited(fake.published)[-1]["numbers_returned"] == 1
        data = get("/dashboard/data", viewer()).json()
        assert data["reviews"]["items"][0]["number"].endswith("0171") and NUMBER not in str(data)
    finally:
        fake.table.clear()


def test_the_search_box_leads_to_the_numbers_timeline(fake):
    reply = get("/numbers?number=" + urllib.parse.quote("(415) 555-0171") + "&account=acme", viewer())
    assert reply.status == 303
    assert reply.headers["location"] == "/numbers/%2B14155550171?account=acme"
    page = html(get("/numbers?number=not-a-number", viewer()), 400)
    assert "not a phone number" in page


def test_a_timeline_held_elsewhere_is_audited_once_by_the_worker_holding_it(served, fake):
    fake.local, fake.owner = False, f"http://127.0.0.1:{served.access_port}"
    answers = iter([False])  # asked first: not ours; then, forwarded: ours (the same fake host)
    served.host.local_state = lambda partition: fake.table if next(answers, True) else None
    fake.published.clear()
    try:
        page = html(get(f"/numbers/{urllib.parse.quote(NUMBER)}", viewer()))
    finally:
        served._fake(served.host)
    assert NUMBER in page and 'id="timeline-state"' in page
    (record,) = audited(fake.published)
    assert record["route"] == "/optouts/{number}/history" and record["forwarded_by"] == served.host.worker_id
    assert record["via"] == "bearer" and record["numbers_returned"] == 1


def test_the_timeline_page_shows_the_number_and_is_audited_once(fake):
    fake.published.clear()
    page = html(get(f"/numbers/{urllib.parse.quote(NUMBER)}", viewer()))
    assert NUMBER in page and 'id="timeline-state"' in page
    records = audited(fake.published)
    assert len(records) == 1 and records[0]["numbers_returned"] == 1 and records[0]["route"] == "/numbers/{number}"


def test_what_the_client_sent_is_escaped(fake):
    page = html(get(f"/numbers/{urllib.parse.quote(NUMBER)}?account=%3Cscript%3Ealert(1)%3C/script%3E", viewer()))
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_the_page_refreshes_from_the_panels_and_draws_charts(fake):
    page = html(get("/", viewer()))
    assert 'data-panels="/dashboard/panels"' in page and 'id="chart-minute"' in page
    assert re.search(r'<script src="/static/dashboard\.js\?v=[0-9a-f]{16}" defer>', page)
    assert re.search(r'<script src="/static/vendor/uPlot\.iife\.min\.js\?v=[0-9a-f]{16}" defer>', page)
    assert '<script type="application/json" id="chart-data">' in page


# ------------------------------------------------------------ static files, no CDN


@pytest.mark.parametrize("name,kind", [
    ("dashboard.js", "text/javascript"),
    ("dashboard.css", "text/css"),
    ("vendor/uPlot.iife.min.js", "text/javascript"),  # make install brings it (scripts/vendor_assets.py)
    ("vendor/uPlot.min.css", "text/css"),
])
def test_static_files_are_served_by_the_worker_with_long_cache_headers(fake, name, kind):
    reply = get(f"/static/{name}")
    assert reply.status == 200, reply.body[:200]
    assert reply.headers["content-type"].startswith(kind)
    assert "immutable" in reply.headers["cache-control"] and "max-age=31536000" in reply.headers["cache-control"]
    assert reply.body == (WEB / "static" / name).read_bytes()


@pytest.mark.parametrize("path", [
    "/static/../dashboard.py", "/static/%2e%2e/dashboard.py", "/static/vendor/../../dashboard.py",
    "/static/nothing.js", "/static/templates/base.html", "/static/.hidden.js", "/static/dashboard.js/x",
    "/static/" + "a" * 300 + ".js",
])
def test_nothing_else_is_served_from_static(fake, path):
    error(get(path), 404)


def test_no_cdn_no_remote_url_in_any_template_or_script():
    files = [*(WEB / "templates").glob("*.html"), *(WEB / "static").glob("*.js"), *(WEB / "static").glob("*.css")]
    assert len(files) >= 8
    for path in files:
        text = path.read_text()
        assert not re.search(r"(https?:)?//[A-Za-z0-9.-]+\.[a-z]{2,}", text), f"a remote URL in {path.name}"
        assert not re.search(r"\b(cdn|unpkg|jsdelivr|cdnjs|googleapis)\b", text, re.I), path.name
        assert "<script>" not in text, f"an inline script in {path.name} (the CSP forbids it)"
