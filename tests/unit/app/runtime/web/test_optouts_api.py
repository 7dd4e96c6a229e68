"""`GET /optouts` and `GET /optouts.csv` on the real web server (no Kafka): the fake
host's partitions are memory stores filled with every kind of key the table holds."""

from __future__ import annotations

import asyncio
import base64
import csv
import hashlib
import io
import json
import urllib.error
import urllib.parse
import urllib.request

import orjson
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.domain.consent import ConsentState, Source
from app.engine.state import MemoryStore, PartitionState
from app.reports.optout_listing import CHUNK_KEYS, Cursor, Filters
from app.stream.partitioner import partition_for
from tests.unit.app.runtime.web.conftest import TOKEN, VIEWER_TOKEN, audited, auth, exchange, request, viewer
from tests.unit.app.runtime.web.test_http import error

PARTITIONS = 8
OTHER_KEY = hashlib.sha256(b"the cursor key of another cluster").digest()
T0 = "2026-03-01T12:00:00+00:00"


def consent(opted_out: bool, changed_at: str = T0, source: Source = Source.KEYWORD, rule: str | None = "keyword",
            matched: str | None = "stop", message_id: str = "m-1") -> bytes:
    from datetime import datetime
    at = datetime.fromisoformat(changed_at)
    state = ConsentState(opted_out, at, message_id, source, rule, matched, at, message_id, (f"{message_id}#out:x",))
    return orjson.dumps(state.to_json())


# number, account, stored value; the expected listing holds the opted-out consent states only
OPTED_OUT = {
    ("+14155550101", "acme"): consent(True, "2026-01-05T08:00:00+00:00", message_id="sms-1"),
    ("+14155550102", "acme"): consent(True, "2026-02-05T08:00:00+00:00", Source.PHRASE, "phrase", "opt me out",
                                      "sms-2"),
    ("+14155550103", "other"): consent(True, "2026-03-05T08:00:00-05:00", Source.OPERATOR, "operator", None,
                                       "operator-9"),
    ("+14155550104", "acme"): consent(True, T0, Source.OPERATOR, "operator", None, "import:abc123"),
    ("+14155550105", "acme"): consent(True, T0, Source.PROVIDER, "provider_error", "21610", "dlr-5"),
    ("+14155550106", 'we, "the" acme'): consent(True, T0, matched='=HYPERLINK("http://x")\nline 2',
                                                message_id="@sum(1)"),
    ("+442071838750", "acme"): consent(True, "2026-04-01T00:00:00+00:00", Source.REVIEW, "review", "end it",
                                       "sms-7"),
    ("+4930123456", "acme"): consent(True, "2026-04-02T00:00:00+00:00", Source.REVIEW_DEADLINE,
                                     "review_deadline", "halt", "sms-8"),
}
OTHER_KEYS = {
    b"+14155550199|acme": consent(False, message_id="sms-9"),  # opted back in
    b"+14155550101|acme|replies": orjson.dumps({"recent_ids": ["h-1#help:x"]}),
    b"+14155550101|acme|history": orjson.dumps({"events": [{"opted_out": True, "changed_at": T0}]}),
    b"review|3.0123456789abcdef01": orjson.dumps({"number": "+14155550107", "opted_out": True}),
    b"reviews|pending": orjson.dumps({"x": [1, "+14155550108"]}),
    b"__changelog_next__": b"12",
    b"__decided__": orjson.dumps({"opted_out": True}),
}


def partition(number: str) -> int:
    return partition_for(number, PARTITIONS)


@pytest.fixture
def states(served, fake):
    tables = {p: PartitionState(p, MemoryStore()) for p in range(PARTITIONS)}
    for (number, account), value in OPTED_OUT.items():
        tables[partition(number)].store.write({f"{number}|{account}".encode(): value}, 1)
    for key, value in OTHER_KEYS.items():
        number = key.split(b"|")[0].decode()
        tables[partition(number) if number.startswith("+") else 3].store.write({key: value}, 2)
    tables[0][b"+14155550120|acme"] = orjson.loads(consent(True))  # held back by the checkpoint: not stored yet
    served.host.local_state = lambda p: tables.get(p) if fake.ready else None
    yield tables
    served._fake(served.host)


@pytest.fixture
def port(served):
    return served.port


@pytest.fixture
def key(served):
    """The served worker's cursor key: its cluster's (OPTOUT_CLUSTER_SECRET), never a token's."""
    return served.host.cluster_keys.key("cursor")


def get(port: int, path: str, headers=None):
    return exchange(port, request("GET", path, headers=viewer() if headers is None else headers))


def every_page(port: int, query: str = "", headers=None) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        sep = "&" if query else ""
        path = f"/optouts?{query}" + (f"{sep}cursor={cursor}" if cursor else "")
        reply = get(port, path, headers)
        assert reply.status == 200, reply.body[:300]
        body = reply.json()
        pages.append(body["items"])
        assert body["count"] == len(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def fetch_csv(port: int, query: str = "", token: str = VIEWER_TOKEN) -> tuple[int, dict, str]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/optouts.csv?{query}",
                                 headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def masked(number: str) -> str:
    return "+" + "*" * (len(number) - 5) + number[-4:]


# ------------------------------------------------------------ the listing


def test_the_listing_holds_every_opted_out_number_once_masked_and_nothing_else(port, states, fake):
    (items,) = every_page(port, "limit=1000")
    assert sorted((i["number"], i["account_id"]) for i in items) == sorted(
        (masked(n), a) for n, a in OPTED_OUT)
    by_id = {i["message_id"]: i for i in items}
    assert by_id["import:abc123"]["source"] == "import"  # an imported list: operator opt-outs by the import
    assert by_id["operator-9"]["source"] == "operator"
    assert by_id["operator-9"]["opted_out_at"] == "2026-03-05T08:00:00-05:00"
    assert by_id["dlr-5"] == {"number": "+*******0105", "account_id": "acme", "opted_out_at": T0,
                              "source": "provider", "rule": "provider_error", "matched": "21610",
                              "message_id": "dlr-5"}
    (record,) = audited(fake.published)
    assert record["route"] == "/optouts" and record["numbers_returned"] == len(OPTED_OUT)
    assert record["role"] == "viewer"


def test_pages_follow_the_cursor_in_partition_and_key_order(port, states):
    (everything,) = every_page(port, "limit=1000")
    pages = every_page(port, "limit=3")
    assert all(len(p) <= 3 for p in pages) and len(pages) >= 3
    assert [i for p in pages for i in p] == everything  # the same entries, the same order, each once


def test_the_cursor_holds_while_the_table_changes(port, states):
    first = get(port, "/optouts?limit=2").json()
    seen = first["items"]
    # a number opts out in a partition already passed, another in one still ahead
    passed, ahead = 0, PARTITIONS - 1
    states[passed].store.write({b"+10000000000|acme": consent(True)}, 3)
    states[ahead].store.write({b"+19999999999|acme": consent(True)}, 3)
    cursor = first["next_cursor"]
    while cursor:
        body = get(port, f"/optouts?limit=2&cursor={cursor}").json()
        seen += body["items"]
        cursor = body["next_cursor"]
    numbers = [i["number"] for i in seen]
    assert len(numbers) == len(set(zip(numbers, [i["account_id"] for i in seen], strict=True)))  # never twice
    assert masked("+19999999999") in numbers


@pytest.mark.parametrize(("query", "expected"), [
    ("account=other", {"operator-9"}),
    ("source=import", {"import:abc123"}),
    ("source=operator", {"operator-9"}),
    ("source=review_deadline", {"sms-8"}),
    ("source=phrase&account=acme", {"sms-2"}),
    ("since=2026-04-01T00:00:00Z", {"sms-7", "sms-8"}),
    ("until=2026-02-01T00:00:00%2B00:00", {"sms-1"}),
    ("since=2026-03-05T13:00:00Z&until=2026-03-05T13:00:01Z", {"operator-9"}),  # 08:00-05:00, to the second
    ("account=nobody", set()),
])
def test_filters(port, states, query, expected):
    items = [i for p in every_page(port, query) for i in p]
    assert {i["message_id"] for i in items} == expected


def test_mask_0_is_for_the_admin_only(port, states, fake):
    error(get(port, "/optouts?mask=0"), 403, "forbidden")
    assert audited(fake.published) == []
    (items,) = every_page(port, "mask=0&limit=1000", headers=auth())
    assert sorted(i["number"] for i in items) == sorted(n for n, _ in OPTED_OUT)
    (items,) = every_page(port, "mask=1&limit=1000", headers=auth())
    assert all("*" in i["number"] for i in items)
    assert [r["role"] for r in audited(fake.published)] == ["admin", "admin"]


def test_tokens(served, port, states, fake):
    for path in ("/optouts", "/optouts.csv"):
        error(get(port, path, headers={}), 401, "unauthorized")
        error(get(port, path, headers=auth("wrong")), 401, "unauthorized")
    settings = served.host.settings
    tokens = settings.admin_token, settings.viewer_token
    object.__setattr__(settings, "admin_token", None)
    object.__setattr__(settings, "viewer_token", None)
    try:
        for path in ("/optouts", "/optouts.csv"):
            error(get(port, path, headers=auth()), 403, "forbidden")
    finally:
        object.__setattr__(settings, "admin_token", tokens[0])
        object.__setattr__(settings, "viewer_token", tokens[1])
    assert fake.published == []


BAD = [
    ("limit=0", "invalid_limit"), ("limit=1001", "invalid_limit"), ("limit=abc", "invalid_limit"),
    ("limit=-1", "invalid_limit"), ("limit=", "invalid_limit"), ("limit=%EF%BC%95", "invalid_limit"),
    ("source=nope", "invalid_source"), ("source=", "invalid_source"), ("account=", "invalid_account"),
    ("since=2026-01-01", "invalid_since"), ("since=2026-01-01T00:00:00", "invalid_since"),
    ("since=yesterday", "invalid_since"), ("until=2026-13-01T00:00:00Z", "invalid_until"),
    ("since=" + "2" * 100, "invalid_since"),
    ("since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", "invalid_period"),
    ("since=2026-02-01T00:00:00Z&until=2026-02-01T00:00:00Z", "invalid_period"),
    ("mask=2", "invalid_mask"), ("mask=", "invalid_mask"), ("mask=false", "invalid_mask"),
    ("cursor=", "invalid_cursor"), ("cursor=nope", "invalid_cursor"), ("cursor=%2B14155550101", "invalid_cursor"),
    ("cursor=" + "A" * 2000, "invalid_cursor"),
    ("cursor={no_such_partition}", "invalid_cursor"),
    ("cursor={not_a_number_key}", "invalid_cursor"),
    ("cursor={another_clusters}", "invalid_cursor"),  # not ours
    ("account=other&cursor={from_the_start}", "invalid_cursor"),  # made for other filters
]


def cursors(key: bytes) -> dict[str, str]:
    """The cursors BAD names, sealed with the served worker's key (or, one of them, not)."""
    return {"no_such_partition": Cursor(99).encode(Filters(), key),
            "not_a_number_key": Cursor(1, b"review|x").encode(Filters(), key),
            "another_clusters": Cursor(1).encode(Filters(), OTHER_KEY),
            "from_the_start": Cursor(1).encode(Filters(), key)}


@pytest.mark.parametrize(("query", "name"), BAD)
@pytest.mark.parametrize("path", ["/optouts", "/optouts.csv"])
def test_bad_parameters_are_400_json(port, key, states, fake, path, query, name):
    query = query.format(**cursors(key))
    if path == "/optouts.csv" and name == "invalid_limit" and query == "limit=1001":
        query = "limit=100000001"  # the export's limit is the number of rows
    body = error(get(port, f"{path}?{query}"), 400, name)
    assert "14155550101" not in json.dumps(body)
    assert audited(fake.published) == []


def test_a_cursor_is_opaque_and_goes_on_after_its_partition_and_key(port, key, states):
    at = (partition("+14155550101"), b"+14155550101|acme")
    cursor = Cursor(at[0], at[1]).encode(Filters(account="acme"), key)
    assert "14155550101" not in cursor and "|" not in cursor and "+" not in cursor
    assert b"1415" not in base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))  # sealed, not encoded
    items = [i for p in every_page(port, f"account=acme&mask=0&cursor={cursor}", headers=auth()) for i in p]
    expected = sorted((partition(n), f"{n}|{a}".encode()) for n, a in OPTED_OUT if a == "acme")
    assert [(partition(i["number"]), f"{i['number']}|acme".encode()) for i in items] == [e for e in expected if e > at]


def test_the_listing_is_never_partial(port, states, fake):
    fake.ready = False  # no partition here, and no other worker holds any
    body = error(get(port, "/optouts"), 503, "unavailable")
    assert "cursor" in body["detail"]
    error(get(port, "/optouts.csv"), 503, "unavailable")
    assert audited(fake.published) == []


def test_no_numbers_without_an_audit_record(port, states, fake):
    fake.refuse_publish = True
    error(get(port, "/optouts"), 503, "unavailable")
    # the export does not start: its first audit record comes before its first byte (it was: rows sent, then cut)
    status, headers, text = fetch_csv(port)
    assert status == 503 and headers["Content-Type"].startswith("application/json")
    assert json.loads(text)["error"] == "unavailable" and "number," not in text and "*" not in text


# ------------------------------------------------------------ the export


def test_the_export_is_csv_with_a_header_and_every_entry(port, states, fake):
    status, headers, text = fetch_csv(port)
    assert status == 200 and headers["Content-Type"] == "text/csv; charset=utf-8"
    assert headers["Transfer-Encoding"] == "chunked" and "attachment" in headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["number", "account_id", "opted_out_at", "source", "rule", "matched", "message_id"]
    assert text.startswith("number,account_id,opted_out_at,source,rule,matched,message_id\r\n")
    assert sorted((r[0], r[1]) for r in rows[1:]) == sorted((masked(n), a) for n, a in OPTED_OUT)
    (listed,) = every_page(port, "limit=1000")
    assert [r[0] for r in rows[1:]] == [i["number"] for i in listed]  # the listing's order
    started, ended, _ = audited(fake.published)  # the export's two records, then the listing's
    assert started["route"] == ended["route"] == "/optouts.csv"
    assert started["export"]["phase"] == "started" and started["numbers_returned"] == 0
    assert started["export"]["filters"] == {"account": None, "source": None, "since": None, "until": None}
    assert ended["export"] == {"phase": "ended", "filters": started["export"]["filters"], "masked": True,
                               "rows_sent": len(OPTED_OUT), "complete": True, "client_went_away": False}
    assert ended["numbers_returned"] == len(OPTED_OUT) and ended["status"] == 200


def test_the_export_escapes_what_a_spreadsheet_would_run(port, states):
    _, _, text = fetch_csv(port, "mask=0", token=TOKEN.encode().decode("latin-1"))
    rows = {r[6]: r for r in csv.reader(io.StringIO(text))}
    tricky = rows["'@sum(1)"]
    assert tricky[0] == "+14155550106" and tricky[1] == 'we, "the" acme'
    assert tricky[5] == "'=HYPERLINK(\"http://x\")\nline 2"  # quoted, multi-line, not a formula
    assert '"we, ""the"" acme"' in text


def test_the_export_takes_the_same_filters_and_a_row_limit(port, states, fake):
    _, _, text = fetch_csv(port, "source=import")
    assert [r[6] for r in csv.reader(io.StringIO(text))][1:] == ["import:abc123"]
    _, _, text = fetch_csv(port, "limit=2")
    assert len(list(csv.reader(io.StringIO(text)))) == 3
    status, _, text = fetch_csv(port, "mask=0")
    assert status == 403 and json.loads(text)["error"] == "forbidden"
    records = audited(fake.published)  # two per export (started, ended), none for the 403
    assert [r["export"]["phase"] for r in records] == ["started", "ended"] * 2
    assert [r["numbers_returned"] for r in records] == [0, 1, 0, 2]
    assert records[0]["export"]["filters"]["source"] == "import" and records[0]["export"]["limit"] is None
    assert records[2]["export"]["limit"] == 2 and records[3]["export"]["rows_sent"] == 2


def test_routes_are_not_swallowed(port, states, fake):
    status, headers, _ = fetch_csv(port)
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    reply = get(port, "/optouts/%2B14155550101?account=acme")
    assert reply.status == 503 or reply.json()["number"] == "+14155550101"  # the lookup (the fake table is not one)
    reply = get(port, "/optouts")
    assert reply.status == 200 and "items" in reply.json()
    for path in ("/optouts.json", "/optouts.csv/", "/optouts.CSV", "/optouts/.csv"):
        assert get(port, path).status in (400, 404, 503), path
    for method in ("POST", "DELETE"):
        error(exchange(port, request(method, "/optouts.csv", headers=auth(), body=b"{}")), 405,
              "method_not_allowed")
    for path in ("/optouts", "/optouts.csv"):  # no HEAD: it would read (and audit) everything for nothing
        assert exchange(port, request("HEAD", path, headers=auth())).status == 405


def test_the_event_loop_runs_between_chunks(served, port, states, fake):
    """Another task of the worker's loop (the engine's, in a worker) runs between any two reads."""
    many = 12 * CHUNK_KEYS
    store = states[2].store
    store.write({f"+1212555{i:04d}|acme".encode(): consent(True) for i in range(many)}, 5)
    ticks, marks = [0], []

    async def ticker() -> None:
        while True:
            ticks[0] += 1
            await asyncio.sleep(0)

    def scan(after, limit, prefix=None):
        marks.append(ticks[0])
        assert limit <= CHUNK_KEYS
        return MemoryStore.scan(store, after, limit, prefix)

    store.scan = scan
    task = asyncio.run_coroutine_threadsafe(ticker(), served.loop)
    try:
        _, _, text = fetch_csv(port)
        every_page(port, "limit=1000")
    finally:
        task.cancel()
    assert text.count("\r\n") == 1 + many + len(OPTED_OUT)
    assert len(marks) >= 2 * many // CHUNK_KEYS
    assert all(b > a for a, b in zip(marks, marks[1:])), marks  # the ticker ran between every two reads


def test_a_short_page_when_the_scan_budget_runs_out(port, states, monkeypatch):
    from app.runtime.web import optouts_api
    monkeypatch.setattr(optouts_api, "MAX_SCANNED_PER_PAGE", 1)  # one chunk per page at most
    pages = every_page(port, "account=other")
    assert [i["message_id"] for p in pages for i in p] == ["operator-9"] and len(pages) > 1


# ------------------------------------------------------------ anything in the query


query_values = st.one_of(
    st.text(max_size=40), st.sampled_from(["0", "1", "1000", "1001", "", "keyword", "import", "+14155550101",
                                           "2026-01-01T00:00:00Z", "2026-01-01", "%FF", "A" * 1100]),
    st.binary(max_size=30).map(lambda b: b.decode("latin-1")))


@hypothesis_settings(max_examples=150, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.sampled_from(["/optouts", "/optouts.csv"]),
       st.dictionaries(st.sampled_from(["account", "source", "since", "until", "limit", "cursor", "mask", "x"]),
                       query_values, max_size=5),
       st.sampled_from(["viewer", "admin", "none"]))
def test_anything_in_the_query_is_answered_or_refused_in_json(port, states, fake, path, query, who):
    headers = {"viewer": viewer(), "admin": auth(), "none": {}}[who]
    reply = get(port, path + "?" + urllib.parse.urlencode(query), headers=headers)
    if reply.status == 200:
        return
    assert reply.status in (400, 401, 403), (query, reply.status, reply.body[:200])
    body = error(reply, reply.status)
    assert "14155550101" not in json.dumps(body)
