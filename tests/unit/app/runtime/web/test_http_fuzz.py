"""HTTP fuzz test over every endpoint (GET /health, GET /stats, GET /optouts/{number}, GET /reviews,
POST /optouts, POST /reviews/{id}, the dashboard's pages, Faust's /router and /table, unknown paths), in raw
bytes over a socket:
generated methods, paths, query strings, headers (non-UTF-8 bytes in Authorization
among them), bodies and framings, each carrying a phone number written some way.

Every answer must be: a 2xx where the request was valid, a 503 where the worker is
not ready, else a 4xx (or the dashboard's 303); never another 5xx; JSON (``{"error", "detail"}`` for
errors) but for the dashboard's pages and files;
an error must not hold the phone number or any run of 6 digits; and no log line may
hold a phone number."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.app.runtime.web.conftest import (
    TOKEN,
    assert_no_number_logged,
    digit_runs,
    exchange,
    written_anywhere,
)

EXAMPLES = 250
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

SCRIPTS = ["0123456789", "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19",
           "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669"]


@st.composite
def phones(draw) -> tuple[str, str]:
    """(its digits, the number as written): E.164, national formats, other scripts, spaced."""
    digits = draw(st.sampled_from(["1415", "1212", "4420", "4930", "33"])) + draw(st.text("0123456789", min_size=7,
                                                                                       max_size=9))
    script = draw(st.sampled_from(SCRIPTS))
    style = draw(st.sampled_from(["e164", "national", "spaced", "dotted", "plain"]))
    d = "".join(script[int(c)] for c in digits)
    written = {
        "e164": f"+{d}",
        "national": f"({d[1:4]}) {d[4:7]}-{d[7:]}",
        "spaced": f"+{d[0]} {d[1:4]} {d[4:7]} {d[7:]}",
        "dotted": f"{d[1:4]}.{d[4:7]}.{d[7:]}",
        "plain": d,
    }[style]
    # what the digits are in ASCII, as a log or an answer might show them
    shown = digits if style in ("e164", "spaced", "plain") else digits[1:]
    return shown, written


def pct(text: str, how: str) -> bytes:
    if how == "quoted":
        return urllib.parse.quote(text, safe="").encode()
    if how == "plus-quoted":
        return urllib.parse.quote_plus(text).encode()
    if how == "latin-1":
        return text.encode("latin-1", "replace")
    return text.encode("utf-8")  # raw: spaces, parentheses and non-ASCII as they are


segment_junk = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=30).map(lambda t: urllib.parse.quote(t, safe="").encode()),
    st.sampled_from([b"%", b"%G1", b"%F", b"%FF%FE", b"%C3%28", b"%00", b"%2F", b"..", b".", b"", b"%ED%A0%80",
                     b"\xff\xfe", b"\xc0\xaf", b"%25", b"{number}", b"~", b"a" * 300]),
)


clean_junk = st.one_of(
    st.text(max_size=30).map(lambda t: urllib.parse.quote(t, safe="").encode()),
    st.sampled_from([b"%", b"%G1", b"%F", b"%FF%FE", b"%C3%28", b"%00", b"%2F", b"..", b".", b"", b"%ED%A0%80",
                     b"%25", b"~", b"a" * 300]),
)


@st.composite
def paths(draw, phone: str, wild: bool) -> bytes:
    how = draw(st.sampled_from(["quoted", "plus-quoted", "raw", "latin-1"] if wild else ["quoted", "plus-quoted"]))
    number = pct(phone, how)
    junk = draw(segment_junk if wild else clean_junk)
    return draw(st.sampled_from([
        b"/health", b"/stats", b"/optouts", b"/optouts/", b"/optouts/" + number, b"/optouts/" + junk,
        b"/optouts/" + number + b"/" + junk, b"/optouts/" + junk + number, b"/router", b"/router/",
        b"/reviews", b"/reviews/" + junk, b"/reviews/0.0123456789abcdef01", b"/reviews?cursor=" + junk,
        b"/router/" + junk + b"/", b"/router/optouts/" + number + b"/", b"/router/topics", b"/table",
        b"/table/optouts/" + number + b"/", b"/", b"//optouts/" + number, b"/health/" + junk,
        b"/" + junk, b"/" + number, b"/optouts/" + number + b"/../../router/", b"*",
        b"http://127.0.0.1/optouts/" + number,
        b"/numbers/" + number, b"/numbers?number=" + number, b"/dashboard/data", b"/dashboard/panels",
        b"/signin", b"/static/" + junk, b"/static/dashboard.js",
    ]))


@st.composite
def queries(draw, phone: str, wild: bool) -> bytes:
    how = draw(st.sampled_from(["quoted", "plus-quoted", "raw"] if wild else ["quoted", "plus-quoted"]))
    return draw(st.sampled_from([
        b"", b"?", b"?account=", b"?account=acme", b"?account=" + pct(phone, how),
        b"?account=" + draw(segment_junk if wild else clean_junk), b"?" + draw(segment_junk if wild else clean_junk),
        b"?account=a&account=b",
        b"?" + pct(phone, how) + b"=" + pct(phone, how), b"?account=%FF%FE" + pct(phone, "quoted"),
    ]))


printable_value = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).map(str.encode),
    st.text(st.characters(min_codepoint=0xA0, max_codepoint=0x2FFF), max_size=20).map(str.encode),  # UTF-8
    st.binary(max_size=20).map(lambda b: bytes(c for c in b if c >= 0x80) or b"\xff"),  # not UTF-8
)
wild_value = st.one_of(
    st.binary(max_size=60).filter(lambda b: b"\r" not in b and b"\n" not in b),
    st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")).filter(
        lambda b: b"\r" not in b and b"\n" not in b),
)


@st.composite
def headers(draw, phone: str, wild: bool) -> list[tuple[bytes, bytes]]:
    header_value = wild_value if wild else printable_value
    out: list[tuple[bytes, bytes]] = [(b"Host", b"127.0.0.1")]
    auth = draw(st.sampled_from(["good", "none", "good", "bytes", "phone", "scheme", "latin-1", "good"]))
    if auth == "good":
        out.append((b"Authorization", b"Bearer " + TOKEN.encode()))
    elif auth == "bytes":
        out.append((b"Authorization", b"Bearer " + draw(header_value)))
    elif auth == "phone":
        out.append((b"Authorization", b"Bearer " + phone.encode()))
    elif auth == "scheme":
        out.append((b"Authorization", draw(header_value)))
    elif auth == "latin-1":
        out.append((b"Authorization", b"Bearer " + TOKEN.encode("latin-1")))
    if draw(st.booleans()):
        out.append((b"Content-Type", draw(st.sampled_from([b"application/json", b"text/plain", b"application/json; "
                                                                                             b"charset=latin-1"]))))
    if draw(st.integers(0, 5)) == 0:
        out.append((b"Content-Encoding", draw(st.sampled_from([b"gzip", b"deflate", b"br", b"identity", b"zstd",
                                                               b"x-nope"]))))
    if draw(st.integers(0, 7)) == 0:
        out.append((b"Expect", b"100-continue"))
    for _ in range(draw(st.integers(0, 3))):
        names = [b"X-Number", b"Referer", b"User-Agent", b"Cookie", b"X-Optout-Forwarded", b"Accept",
                 b"Accept-Encoding"]
        name = draw(st.sampled_from(names + [b"X-\xff", b"Bad Name", b""] if wild else names))
        value = draw(st.one_of(header_value, st.just(phone.encode("utf-8")),
                               st.just(phone.encode() * 900) if wild else st.just(b"")))
        out.append((name, value))
    return out


def payload(phone: str, **fields) -> bytes:
    return json.dumps({"number": phone, "account_id": "acme", "reason": "fuzz", "requested_by": "fuzzer",
                       **fields}).encode()


@st.composite
def bodies(draw, shown: str, phone: str) -> bytes:
    payload = {"number": phone, "account_id": "acme", "reason": "fuzz", "requested_by": "fuzzer"}
    return draw(st.one_of(
        st.just(b""),
        st.binary(max_size=200),
        st.just(json.dumps(payload).encode()),
        st.just(json.dumps(payload, ensure_ascii=False).encode("utf-16")),
        st.just(json.dumps({**payload, phone: phone}).encode()),
        st.just(json.dumps({**payload, "number": int(shown)}).encode()),  # a JSON number
        st.just(json.dumps({**payload, "opted_out": False}).encode()),
        st.just(json.dumps([phone]).encode()), st.just(json.dumps(phone).encode()), st.just(b"null"),
        st.just(b"[" * 3000 + b"]" * 3000), st.just(b'{"a":' * 2000 + b"1" + b"}" * 2000),
        st.just(b"\xff\xfe" + phone.encode()), st.just(b'{"number": "\xed\xa0\x80"}'),
        st.just(b"{" + b" " * 70_000 + b"}"),
        st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                     max_leaves=8).map(lambda v: json.dumps(v).encode()),
    ))


@st.composite
def requests(draw):
    """A lookup, an operator's opt-out or anything; seven in ten well formed (they reach
    the views), the others with anything in the method, path, headers and framing."""
    wild = draw(st.integers(0, 9)) >= 7
    shown, phone = draw(phones())
    methods = [b"GET", b"GET", b"POST", b"POST", b"PUT", b"DELETE", b"PATCH", b"HEAD", b"OPTIONS", b"TRACE"]
    method = draw(st.one_of(
        st.sampled_from(methods + [b"CONNECT", b"get", b"FOO"]),
        st.binary(min_size=1, max_size=8).filter(lambda b: b" " not in b and b"\r" not in b and b"\n" not in b),
    ) if wild else st.sampled_from(methods))
    intent = draw(st.sampled_from(["lookup", "operator", "any", "any"]))
    if intent == "lookup":
        method = b"GET"
        target = b"/optouts/" + pct(phone, draw(st.sampled_from(["quoted", "plus-quoted"]))) + draw(queries(phone, wild))
    elif intent == "operator":
        method = b"POST"
        target = b"/optouts" + draw(st.sampled_from([b"", b"?account=x", b"?" + pct(phone, "quoted")]))
    else:
        target = draw(paths(phone, wild)) + draw(queries(phone, wild))
    hdrs = draw(headers(phone, wild))
    if intent == "operator" and draw(st.booleans()):
        hdrs = [(k, v) for k, v in hdrs if k != b"Authorization"] + [(b"Authorization", b"Bearer " + TOKEN.encode())]
        body = draw(st.sampled_from([payload(phone), payload(phone, account_id="", reason="x" * 2000)]))
    else:
        body = draw(bodies(shown, phone))
    framing = draw(st.sampled_from(["length", "length", "chunked", "none"]))
    if framing == "length" and (body or method in (b"POST", b"PUT", b"PATCH")):
        hdrs.append((b"Content-Length", str(len(body)).encode()))
    elif framing == "chunked":
        hdrs.append((b"Transfer-Encoding", b"chunked"))
        body = (f"{len(body):x}\r\n".encode() + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
    else:
        body = b""
    hdrs.append((b"Connection", b"close"))
    raw = method + b" " + target + b" HTTP/1.1\r\n" + b"".join(k + b": " + v + b"\r\n" for k, v in hdrs) + b"\r\n"
    return shown, raw + body, method, target


def check(reply, shown: str, method: bytes, target: bytes) -> None:
    """One answer, whatever was asked."""
    where = f"{method!r} {target[:120]!r}"
    assert reply.status < 500 or reply.status == 503, (where, reply.status, reply.body[:300])
    kind = reply.headers.get("content-type", "")
    if reply.status == 303:  # the dashboard: to the sign-in form, or the search box to a timeline
        assert method == b"GET" and reply.headers["location"].startswith("/"), (where, reply.headers)
        return
    assert reply.status in (200, 202, 503) or 400 <= reply.status < 500, (where, reply.status)
    if kind.startswith(("text/html", "text/javascript", "text/css")):  # the dashboard's pages and files
        assert method in (b"GET", b"HEAD", b"POST"), (where, reply.status)
        if reply.status >= 400:  # an error page (the sign-in form again, "not a phone number")
            assert not written_anywhere(shown, reply.body.decode()), where
        return
    assert kind.startswith("application/json"), (where, reply.headers)
    if method == b"HEAD" and reply.body == b"":
        return
    body = reply.json()
    assert isinstance(body, dict), where
    if reply.status >= 400:
        if reply.status == 503 and body.get("status") == "not_ready":  # GET /health's report
            return
        assert set(body) == {"error", "detail"}, (where, body)
        text = json.dumps(body, ensure_ascii=False)
        assert not digit_runs(text, 6), (where, body)
        assert not written_anywhere(shown, text), (where, body)
        if reply.status == 503:
            assert body["error"] == "unavailable", (where, body)


@pytest.fixture(params=["faust app", "access-logged"])
def port(request, served):
    return served.port if request.param == "faust app" else served.access_port


def test_fuzz_every_endpoint(port, fake, logs):
    seen: list[str] = []

    @FUZZ
    @given(requests(), st.booleans(), st.booleans())
    def one(request, ready, local):
        shown, raw, method, target = request
        fake.ready, fake.local = ready, local
        seen.append(shown)
        check(exchange(port, raw), shown, method, target)

    one()
    assert_no_number_logged(logs, seen)


@st.composite
def too_long(draw):
    shown, phone = draw(phones())
    n = draw(st.integers(8_200, 20_000))
    number = urllib.parse.quote(phone, safe="+").encode()
    where = draw(st.sampled_from(["path", "query", "header", "header-name", "many-headers"]))
    repeat = number * (n // len(number) + 1)
    if where == "path":
        raw = b"GET /optouts/" + repeat + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    elif where == "query":
        raw = b"GET /optouts/" + number + b"?account=" + repeat + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    elif where == "header":
        raw = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Number: " + repeat + b"\r\n\r\n"
    elif where == "header-name":
        raw = b"GET /health HTTP/1.1\r\nHost: x\r\nX-" + repeat.replace(b"+", b"") + b": 1\r\n\r\n"
    else:
        raw = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: %s\r\n" % (i, number) for i in range(150)) \
              + b"\r\n"
    return shown, raw


def test_fuzz_over_long_request_lines_and_headers(port, fake, logs):
    seen: list[str] = []

    @settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(too_long())
    def one(case):
        shown, raw = case
        seen.append(shown)
        reply = exchange(port, raw)
        assert reply.status == 400, reply.body[:200]
        check(reply, shown, b"GET", b"(too long)")
        assert reply.json()["error"] == "bad_request"

    one()
    assert_no_number_logged(logs, seen)
