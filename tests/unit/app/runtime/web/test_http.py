"""The worker's HTTP API, case by case: what each endpoint answers, and the hostile
requests an outside tester sent (a non-UTF-8 bearer token, Faust's /router views,
a URL over 8 KB with a phone number in it)."""

from __future__ import annotations

import json
import logging

import pytest

from tests.unit.app.runtime.web.conftest import (
    TOKEN,
    assert_no_number_logged,
    audited,
    auth,
    digit_runs,
    exchange,
    not_audit,
    request,
    viewer,
)

NUMBER = "+14155550100"
PAYLOAD = {"number": "(415) 555-0100", "account_id": "acme", "reason": "asked by phone", "requested_by": "agent-7"}


def error(reply, status: int, name: str | None = None) -> dict:
    assert reply.status == status, (reply.status, reply.body[:300])
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert set(body) == {"error", "detail"}, body
    if name is not None:
        assert body["error"] == name, body
    assert not digit_runs(json.dumps(body, ensure_ascii=False), 6), body
    return body


@pytest.fixture(params=["faust app", "access-logged"])
def port(request, served):
    return served.port if request.param == "faust app" else served.access_port


# ------------------------------------------------------------ the endpoints


def test_health_and_stats(port, fake):
    reply = exchange(port, request("GET", "/health"))
    assert reply.status == 200 and reply.json()["status"] == "ok"
    fake.ready = False
    reply = exchange(port, request("GET", "/health"))
    assert reply.status == 503 and reply.json()["status"] == "not_ready"
    reply = exchange(port, request("GET", "/stats?scope=worker"))  # (the cluster's: test_stats_http.py)
    assert reply.status == 200 and "suppressed" in reply.json()
    assert exchange(port, request("HEAD", "/health")).status == 503


def test_lookup(port, fake):
    for headers in (viewer(), auth()):  # the viewer token reads; so does the admin token
        fake.published.clear()
        reply = exchange(port, request("GET", "/optouts/%2B14155550100?account=acme", headers=headers))
        assert reply.status == 200
        assert reply.json() == {"number": NUMBER, "account_id": "acme", "opted_out": False, "changed_at": None,
                                "scope": "account"}
        (record,) = audited(fake.published)  # every answer that returned a number is on sms.audit
        assert record["numbers_returned"] == 1 and record["route"] == "/optouts/{number}"
        assert record["role"] == ("viewer" if headers == viewer() else "admin") and record["via"] == "bearer"
        assert TOKEN not in json.dumps(record) and len(record["token_id"]) == 12
    fake.ready = False
    error(exchange(port, request("GET", "/optouts/4155550100", headers=viewer())), 503, "unavailable")
    fake.ready, fake.local = True, False  # held by another worker that does not answer
    error(exchange(port, request("GET", "/optouts/4155550100", headers=viewer())), 503, "unavailable")


def test_a_lookup_needs_a_token(port, fake):
    error(exchange(port, request("GET", "/optouts/%2B14155550100")), 401, "unauthorized")
    error(exchange(port, request("GET", "/optouts/%2B14155550100", headers=auth("wrong"))), 401, "unauthorized")
    assert fake.published == []


def test_a_lookup_is_refused_when_the_audit_record_cannot_be_written(port, fake):
    fake.refuse_publish = True
    error(exchange(port, request("GET", "/optouts/%2B14155550100", headers=viewer())), 503, "unavailable")


def test_no_lookup_without_a_configured_token(served, fake):
    settings = served.host.settings
    tokens = settings.admin_token, settings.viewer_token
    object.__setattr__(settings, "admin_token", None)
    object.__setattr__(settings, "viewer_token", None)
    try:
        body = error(exchange(served.port, request("GET", "/optouts/%2B14155550100", headers=auth())), 403,
                     "forbidden")
        assert "OPTOUT_VIEWER_TOKEN" in body["detail"]
    finally:
        object.__setattr__(settings, "admin_token", tokens[0])
        object.__setattr__(settings, "viewer_token", tokens[1])


def test_a_lookup_is_forwarded_to_the_worker_holding_the_number(served, fake):
    fake.local, fake.owner = False, f"http://127.0.0.1:{served.access_port}"
    # that worker is not ready either (the same fake): its answer comes back as it is
    body = error(exchange(served.port, request("GET", "/optouts/4155550100?account=a", headers=viewer())), 503,
                 "unavailable")
    assert "not ready here" in body["detail"]


def test_a_forwarded_lookup_is_answered_and_audited_once(served, fake):
    fake.local, fake.owner = False, f"http://127.0.0.1:{served.access_port}"
    answers = iter([False, True])  # asked first: not ours; then, forwarded: ours (the same fake host)
    served.host.local_state = lambda partition: fake.table if next(answers, True) else None
    try:
        reply = exchange(served.port, request("GET", "/optouts/4155550100?account=a", headers=viewer()))
    finally:
        served._fake(served.host)
    assert reply.status == 200, reply.body
    assert reply.json()["number"] == NUMBER
    (record,) = audited(fake.published)  # by the worker that answered (the forwarding one records nothing)
    assert record["via"] == "bearer" and record["role"] == "viewer"
    assert record["forwarded_by"] == served.host.worker_id and record["asked"].startswith("/optouts/+14155550100")


def test_a_lookup_held_elsewhere_needs_the_cluster_secret(served, fake):
    fake.local, fake.owner = False, f"http://127.0.0.1:{served.access_port}"
    keys = served.host.cluster_keys
    keys.shared = False  # as without OPTOUT_CLUSTER_SECRET: this process's own random keys
    try:
        body = error(exchange(served.port, request("GET", "/optouts/4155550100", headers=viewer())), 503,
                     "unavailable")
    finally:
        keys.shared = True
    assert "OPTOUT_CLUSTER_SECRET must be set on every worker" in body["detail"]
    assert not audited(fake.published)


def test_a_client_cannot_pass_as_a_forwarding_worker(port, fake):
    fake.local = False  # held elsewhere: a forwarded request would get 503 here; a client's header is ignored
    reply = exchange(port, request("GET", "/optouts/4155550100", headers={**viewer(), "X-Optout-Forwarded": b"1"}))
    body = error(reply, 503, "unavailable")
    assert "did not answer" in body["detail"]  # it tried to forward: the header proved nothing


def test_an_invalid_number_is_not_echoed(port, fake):
    for path in ("/optouts/not-a-number", "/optouts/" + "4155550100" * 10):
        body = error(exchange(port, request("GET", path, headers=viewer())), 400, "invalid_number")
        assert "number" not in body
    error(exchange(port, request("GET", "/optouts/4155550100?account=", headers=viewer())), 400, "invalid_account")


def test_operator_opt_out(port, fake):
    reply = exchange(port, request("POST", "/optouts", headers=auth(), body=json.dumps(PAYLOAD).encode()))
    assert reply.status == 202, reply.body
    assert reply.json()["number"] == NUMBER and reply.json()["account_id"] == "acme"
    (output,) = not_audit(fake.published)
    assert json.loads(output.value)["kind"] == "operator"
    (record,) = audited(fake.published)
    assert record["role"] == "admin" and record["numbers_returned"] == 1 and record["status"] == 202


def test_operator_errors(port, fake):
    def post(body: bytes, headers: dict | None = None):
        return exchange(port, request("POST", "/optouts", headers=auth() if headers is None else headers, body=body))

    error(post(json.dumps(PAYLOAD).encode(), {}), 401, "unauthorized")
    error(post(json.dumps(PAYLOAD).encode(), viewer()), 403, "forbidden")  # the viewer reads, never acts
    error(post(json.dumps(PAYLOAD).encode(), {"Authorization": "Bearer wrong"}), 401, "unauthorized")
    error(post(json.dumps(PAYLOAD).encode(), {"Authorization": "Basic " + "x" * 20}), 401, "unauthorized")
    for number in ("nope", "4155550100" * 10):
        body = error(post(json.dumps({**PAYLOAD, "number": number}).encode()), 400, "invalid_number")
        assert "number" not in body
    error(post(b"{not json"), 400, "invalid_request")
    error(post(b"[1, 2]"), 400, "invalid_request")
    error(post(b"\xff\xfe\x00garbage"), 400, "invalid_request")
    error(post(b"[" * 5000), 400, "invalid_request")
    body = error(post(json.dumps({**PAYLOAD, "+14155550199": 1, "opted_out": False}).encode()), 400,
                 "invalid_request")
    assert any("(unknown field)" in d for d in body["detail"])
    error(post(b"{" + b" " * 70_000 + b"}"), 413, "request_entity_too_large")
    announced = (b"POST /optouts HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\nAuthorization: Bearer "
                 + TOKEN.encode() + b"\r\n\r\n{")  # and never sent: refused at once
    error(exchange(port, announced, timeout=5), 413, "request_entity_too_large")
    fake.refuse_publish = True
    error(post(json.dumps(PAYLOAD).encode()), 503, "unavailable")
    assert fake.published == []


def test_no_operator_endpoint_without_a_token(served, fake):
    settings = served.host.settings  # frozen; read per request
    token = settings.admin_token
    object.__setattr__(settings, "admin_token", None)
    try:
        body = error(exchange(served.port, request("POST", "/optouts", headers=auth(), body=b"{}")), 403, "forbidden")
        assert "OPTOUT_ADMIN_TOKEN" in body["detail"]
    finally:
        object.__setattr__(settings, "admin_token", token)


def test_nothing_clears_an_opt_out_and_other_methods_are_405(port, fake):
    for method in ("DELETE", "PUT", "PATCH", "POST"):
        reply = exchange(port, request(method, "/optouts/%2B14155550100", headers=auth(), body=b"{}"))
        body = error(reply, 405, "method_not_allowed")
        assert reply.headers["allow"] == "GET,HEAD" and "GET" in body["detail"]
    for method in ("DELETE", "PUT", "PATCH", "OPTIONS"):  # GET /optouts is the listing (test_listing.py)
        error(exchange(port, request(method, "/optouts", headers=auth(), body=b"{}")), 405, "method_not_allowed")
    error(exchange(port, request("TRACE", "/health")), 405, "method_not_allowed")


# ------------------------------------------------------------ the tester's findings


def test_a_bearer_token_that_is_not_utf8_is_a_401(port, fake):
    for token in (b"\xff\xfe\xfd", b"s3cret-t\xf8ken", b"\xc3\x28" + b"4155550100", "s3cret-tøken".encode("latin-1")):
        reply = exchange(port, request("POST", "/optouts", headers={"Authorization": b"Bearer " + token},
                                       body=json.dumps(PAYLOAD).encode()))
        error(reply, 401, "unauthorized")
    assert exchange(port, request("POST", "/optouts", headers=auth(), body=json.dumps(PAYLOAD).encode())).status == 202


@pytest.mark.parametrize("path", ["/router", "/router/", "/router/nope/", "/router/optouts/%2B14155550100/",
                                  "/router/topics", "/table", "/table/optouts/", "/table/optouts/%2B14155550100/",
                                  "/graph", "/assignment/", "/performance/", "/stats/"])
def test_faust_built_in_views_do_not_exist(port, fake, path):
    error(exchange(port, request("GET", path)), 404, "not_found")


def test_the_root_is_our_dashboard_not_fausts_index(port, fake):
    reply = exchange(port, request("GET", "/"))  # Faust's index answered JSON about the app
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/html")
    assert b'action="/signin"' in reply.body and b"faust" not in reply.body.lower()


def test_a_url_over_8kb_is_a_json_400_that_echoes_nothing_and_logs_no_number(port, fake, logs):
    before = logs.text()
    path = "/optouts/%2B14155550100?account=" + "%2B14155550177" * 700
    body = error(exchange(port, request("GET", path)), 400, "bad_request")
    assert "too long" in body["detail"]
    body = error(exchange(port, request("GET", "/optouts/" + "4155550188" * 900)), 400, "bad_request")
    body = error(exchange(port, request("GET", "/health", headers={"X-Number": "4155550199" * 900})), 400,
                 "bad_request")
    assert "too long" in body["detail"]
    assert exchange(port, request("GET", "/health")).status == 200  # a new connection is served
    assert "Traceback" not in logs.text()[len(before):]
    assert_no_number_logged(logs, ["14155550100", "14155550177", "4155550188", "4155550199"])


@pytest.mark.parametrize("raw", [
    b"G\x00T / HTTP/1.1\r\n\r\n",
    b"GET /health HTTP/9.9\r\n\r\n",
    b"GET /health HTTP/1.1\r\nBad Header\r\n\r\n",
    b"GET /health HTTP/1.1\r\nX: a\x00b\r\n\r\n",
    b"GET /optouts/\xff\xfe4155550100 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /he alth HTTP/1.1\r\n\r\n",
    b"POST /optouts HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    b"POST /optouts HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef",
    b"POST /optouts HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS hello on the HTTP port
    b"GET /health HTTP/1.1\r\n" + b"X-A: b\r\n" * 200 + b"\r\n",
])
def test_requests_aiohttp_cannot_parse_get_a_json_400(port, fake, raw):
    error(exchange(port, raw), 400, "bad_request")


def test_a_body_that_cannot_be_read_is_a_400(port, fake, logs):
    before = len(logs.text())
    raw = request("POST", "/optouts", headers={**auth(), "Content-Encoding": "gzip"}, body=b"not gzip at all")
    error(exchange(port, raw), 400, "bad_request")
    chunked = (b"POST /optouts HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n"
               b"Content-Encoding: deflate\r\nAuthorization: Bearer " + TOKEN.encode() + b"\r\n\r\n"
               b"5\r\nabcde\r\n0\r\n\r\n")
    error(exchange(port, chunked), 400, "bad_request")
    assert " ERROR " not in logs.text()[before:]  # the client's error, not ours


def test_an_unexpected_error_is_a_json_500_logged_once_without_numbers(served, fake, logs, monkeypatch):
    def broken():
        raise RuntimeError("cannot report on +14155550166")

    monkeypatch.setattr(served.host, "health", broken)
    before = len(logs.text())
    body = error(exchange(served.port, request("GET", "/health")), 500, "internal_error")
    assert "logged" in body["detail"]
    new = logs.text()[before:]
    assert new.count("unexpected error answering GET /health") == 1
    assert "RuntimeError" in new and "+*******0166" in new
    assert_no_number_logged(logs, ["14155550166"])


# ------------------------------------------------------------ how it is wired


def test_faust_web_stack_is_not_built_and_its_views_are_off(served):
    from app.runtime.faust_app import BUILT_IN_VIEWS_OFF

    app = served.app
    assert app._web_server_service is not None and app._web_server_service.__name__ == "WebServer"
    assert list(app.boot_strategy.web_server()) == []  # Faust's own aiohttp stack is not a service
    for setting, value in BUILT_IN_VIEWS_OFF.items():
        assert getattr(app.conf, setting) is value is False
    assert str(app.web_server_url) == served.settings.web_url


def test_log_records_are_masked_once_the_app_is_built(served):
    record = logging.getLogger("any").makeRecord("any", logging.INFO, __file__, 1, "to %s", (NUMBER,), None)
    assert record.getMessage() == "to +*******0100"



def test_a_lookup_reads_the_number_as_a_send_would_never_as_another_one(port, fake):
    for look_alike in ("/optouts/%2B1415555O1OO", "/optouts/%2B1415555%E2%80%8B0100", "/optouts/tel:%2B14155550100"):
        body = error(exchange(port, request("GET", look_alike, headers=viewer())), 400, "invalid_number")
        assert "0100" not in body["detail"]


def test_a_long_account_is_keyed_as_replies_and_sends_are(port, fake):
    reply = exchange(port, request("GET", "/optouts/%2B14155550100?account=" + "a" * 300, headers=viewer()))
    assert reply.status == 200 and reply.json()["account_id"].startswith("sha256:")
