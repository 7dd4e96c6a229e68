"""The security review's findings on the bulk reads (issue "Trust boundaries"), one test each:
every one failed on the code as it was and holds now.

- finding 2: a viewer got whole numbers in bulk from a period ``GET /evidence`` packet;
- finding 3: ``GET /optouts.csv`` streamed its rows before its audit record existed;
- finding 5: with no admin token set, the cursor key derived from the viewer token alone;
- finding 9: a period zip was built on the event loop, and scans ran without a limit.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import socket
import struct
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest

from app.engine.state import MemoryStore, PartitionState
from app.reports import evidence_packet
from app.reports.optout_listing import CHUNK_KEYS, Cursor, Filters, unseal
from app.runtime.web import evidence_api, optouts_api
from app.stream import keys
from app.stream.partitioner import partition_for
from tests.unit.app.runtime.web.conftest import (
    TOKEN,
    VIEWER_TOKEN,
    audited,
    auth,
    exchange,
    request,
    viewer,
    written_anywhere,
)
from tests.unit.app.runtime.web.test_http import error

PARTITIONS = 8
NUMBERS = [f"+1415555{n:04d}" for n in range(150, 170)]
PERIOD = "since=2026-01-01T00:00:00Z&until=2026-12-01T00:00:00Z"


def event(day: int, mid: str) -> dict:
    return {"event_time": f"2026-03-{day:02d}T10:00:00+00:00", "processed_at": f"2026-03-{day:02d}T10:00:01+00:00",
            "intent": "opt_out", "verdict": "applied", "source": "keyword", "rule": "keyword", "message_id": mid,
            "body": "STOP", "keywords_id": "kw-x", "consent": {"partition": 1, "offset": 5}}


def consent(at: str, mid: str) -> bytes:
    return orjson.dumps({"opted_out": True, "changed_at": at, "message_id": mid, "source": "keyword",
                         "rule": "keyword", "matched": "stop", "last_event_at": at, "last_message_id": mid})


@pytest.fixture
def tables(served, fake):
    tables = {p: PartitionState(p, MemoryStore()) for p in range(PARTITIONS)}
    for i, number in enumerate(NUMBERS):
        history = {"events": [event(1 + i % 10, f"r{i}")]}
        at = history["events"][0]["event_time"]
        tables[partition_for(number, PARTITIONS)].store.write({
            f"{number}|acme".encode(): consent(at, f"r{i}"),
            keys.history_key(number, "acme"): orjson.dumps(history)}, 1)
    served.host.local_state = lambda partition: tables.get(partition)
    served.host.ownership.owners = {}
    yield tables
    served._fake(served.host)


def whole_numbers_in(text: str) -> list[str]:
    return [n for n in NUMBERS if written_anywhere(n[1:], text)]


def unzipped(body: bytes) -> str:
    archive = zipfile.ZipFile(io.BytesIO(body))
    return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())


def raw_get(port: int, path: str, headers: dict) -> bytes:
    """Everything the server sends, as it sends it (a cut-short answer included)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request("GET", path, headers=headers))
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                return data
            data += chunk
    return data


# ------------------------------------------------------------ finding 2


def test_finding_2_a_viewer_never_gets_whole_numbers_in_bulk(served, fake, tables):
    """A viewer's bulk reads (listing, export, period packet) hold no whole number; the period
    packet is the admin's (it was: up to 5,000 whole numbers in a viewer's zip, while
    GET /optouts?mask=0 needed the admin token)."""
    port = served.port
    body = error(exchange(port, request("GET", f"/evidence?{PERIOD}", headers=viewer())), 403, "forbidden")
    assert "admin" in body["detail"]
    error(exchange(port, request("GET", f"/evidence?{PERIOD}&account=acme", headers=viewer())), 403, "forbidden")
    error(exchange(port, request("GET", "/optouts?mask=0", headers=viewer())), 403, "forbidden")
    error(exchange(port, request("GET", "/optouts.csv?mask=0", headers=viewer())), 403, "forbidden")
    assert audited(fake.published) == []

    page = exchange(port, request("GET", "/optouts?limit=1000", headers=viewer()))
    assert page.status == 200 and len(page.json()["items"]) == len(NUMBERS)
    export = raw_get(port, "/optouts.csv", viewer())
    assert export.startswith(b"HTTP/1.1 200") and export.count(b"\r\n+*") == len(NUMBERS)
    for answer in (page.body.decode(), export.decode()):
        assert whole_numbers_in(answer) == []

    one = exchange(port, request("GET", "/evidence?number=%2B14155550150&account=acme", headers=viewer()))
    assert one.status == 200 and whole_numbers_in(unzipped(one.body)) == ["+14155550150"]  # the one it asked for

    packet = exchange(port, request("GET", f"/evidence?{PERIOD}", headers=auth()))
    assert packet.status == 200 and sorted(whole_numbers_in(unzipped(packet.body))) == NUMBERS
    assert audited(fake.published)[-1]["role"] == "admin"


# ------------------------------------------------------------ finding 3


def test_finding_3_the_export_is_audited_before_its_first_byte(served, fake, tables):
    """No audit record, no export: a JSON 503 and not one row (it was: every row sent, then the
    connection cut). With the broker up, the started record (who, the filters) is acknowledged
    before the first read, and the ended record counts the rows sent."""
    fake.refuse_publish = True
    data = raw_get(served.port, "/optouts.csv?limit=1000&account=acme", viewer())
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503") and b"application/json" in head
    assert orjson.loads(body)["error"] == "unavailable"
    assert b"number,account_id" not in data and b"+*" not in data and whole_numbers_in(data.decode()) == []
    assert audited(fake.published) == []

    fake.refuse_publish = False
    at_first_read: list[list[dict]] = []
    for table in tables.values():
        def scan(after, limit, prefix=None, store=table.store):
            if not at_first_read:
                at_first_read.append(audited(fake.published))
            return MemoryStore.scan(store, after, limit, prefix)
        table.store.scan = scan
    data = raw_get(served.port, "/optouts.csv?account=acme", viewer())
    assert data.startswith(b"HTTP/1.1 200") and data.count(b"\r\n+*") == len(NUMBERS)
    ((started,),) = at_first_read  # acknowledged before the export read (or sent) anything
    assert started["route"] == "/optouts.csv" and started["role"] == "viewer" and started["token_id"]
    assert started["export"]["phase"] == "started" and started["numbers_returned"] == 0
    assert started["export"]["filters"] == {"account": "acme", "source": None, "since": None, "until": None}
    first, ended = audited(fake.published)
    assert first == started and ended["numbers_returned"] == len(NUMBERS) and ended["status"] == 200
    assert ended["export"]["phase"] == "ended" and ended["export"]["rows_sent"] == len(NUMBERS)
    assert ended["export"]["complete"] is True and ended["export"]["client_went_away"] is False


def test_finding_3_the_closing_record_says_when_the_client_went_away(served, fake, tables):
    many = 40 * CHUNK_KEYS
    store = tables[2].store
    store.write({f"+1212555{i:04d}|acme".encode(): consent("2026-03-01T10:00:00+00:00", f"b{i}")
                 for i in range(many)}, 5)

    def slow_scan(after, limit, prefix=None):
        time.sleep(0.005)  # a slow disk: the export lasts long enough for the client to leave
        return MemoryStore.scan(store, after, limit, prefix)

    store.scan = slow_scan
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(request("GET", "/optouts.csv", headers=viewer()))
        data = b""
        while data.count(b"\r\n+*") < 2 * CHUNK_KEYS:
            chunk = sock.recv(65536)
            assert chunk, data[-200:]  # the export is not over before the client leaves
            data += chunk
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # gone: a reset
    deadline = time.monotonic() + 10
    while len(audited(fake.published)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    started, ended = audited(fake.published)
    assert started["export"]["phase"] == "started"
    assert ended["export"]["phase"] == "ended" and ended["export"]["client_went_away"] is True
    assert ended["status"] == 499 and ended["export"]["complete"] is False
    assert 2 * CHUNK_KEYS <= ended["export"]["rows_sent"] == ended["numbers_returned"] < many + len(NUMBERS)


# ------------------------------------------------------------ finding 5


def token_derived_key(*tokens: str | None) -> bytes:
    """How the cursor key was made before: from the configured tokens, so with no admin token
    set, from the viewer token alone, which every viewer holds."""
    material = "\x00".join(t or "" for t in tokens).encode("utf-8", "surrogatepass")
    return hmac.new(material, b"optout listing cursor v1", hashlib.sha256).digest()


def opened(cursor: str, key: bytes) -> bytes | None:
    return unseal(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)), key)


def test_finding_5_cursors_are_sealed_with_the_cluster_key_never_a_token(served, fake, tables):
    """A viewer-only worker (no OPTOUT_ADMIN_TOKEN): the viewer cannot open a cursor (each holds a
    whole number) nor make one up; workers sharing OPTOUT_CLUSTER_SECRET open each other's."""
    from app.runtime.cluster_keys import ClusterKeys
    from app.runtime.web import HttpServer, make_application
    from app.settings import Settings

    settings = served.host.settings
    admin_token = settings.admin_token
    object.__setattr__(settings, "admin_token", None)
    server = None
    try:
        server = HttpServer(make_application(served.host), "127.0.0.1", 0)  # registered viewer-only
        asyncio.run_coroutine_threadsafe(server.start(), served.loop).result(10)
        first = exchange(server.port, request("GET", "/optouts?limit=1", headers=viewer())).json()
        cursor = first["next_cursor"]
        assert cursor and "*" in first["items"][0]["number"]
        viewers_key = token_derived_key(None, VIEWER_TOKEN)
        assert opened(cursor, viewers_key) is None  # it was: b"1\x1f<partition>\x1f<filters>\x1f+1415555....|acme"
        raw = opened(cursor, served.host.cluster_keys.key("cursor"))
        assert raw is not None and raw.split(b"\x1f")[3].endswith(b"|acme")
        hidden = raw.split(b"\x1f")[3].split(b"|")[0].decode()
        assert hidden in NUMBERS and hidden not in first["items"][0]["number"]  # what the seal keeps from the viewer
        forged = Cursor(partition_for(NUMBERS[10], PARTITIONS), f"{NUMBERS[10]}|acme".encode()).encode(
            Filters(), viewers_key)
        error(exchange(server.port, request("GET", f"/optouts?cursor={forged}", headers=viewer())), 400,
              "invalid_cursor")
    finally:
        object.__setattr__(settings, "admin_token", admin_token)
        if server is not None:
            asyncio.run_coroutine_threadsafe(server.stop(), served.loop).result(10)
    assert opened(cursor, token_derived_key(TOKEN, VIEWER_TOKEN)) is None  # nor with both tokens

    # another worker of the same cluster opens this worker's cursors (the same key), another cluster does not
    own = served.host.cluster_keys
    served.host.cluster_keys = ClusterKeys(Settings(cluster_secret="the-cluster-secret-of-all-workers"))
    try:
        peer = ClusterKeys(Settings(cluster_secret="the-cluster-secret-of-all-workers")).key("cursor")
        stranger = ClusterKeys(Settings(cluster_secret="the-secret-of-another-cluster")).key("cursor")
        at = Cursor(partition_for(NUMBERS[0], PARTITIONS), f"{NUMBERS[0]}|acme".encode())
        page = exchange(served.port, request("GET", f"/optouts?limit=1000&cursor={at.encode(Filters(), peer)}",
                                             headers=viewer()))
        assert page.status == 200 and page.json()["items"]
        assert opened(page.json()["next_cursor"] or at.encode(Filters(), peer), peer) is not None
        error(exchange(served.port, request("GET", f"/optouts?cursor={at.encode(Filters(), stranger)}",
                                            headers=viewer())), 400, "invalid_cursor")
    finally:
        served.host.cluster_keys = own


# ------------------------------------------------------------ finding 9


def on_the_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_finding_9_zips_and_csv_are_built_off_the_event_loop(served, fake, tables, monkeypatch):
    """A period packet at the bounds took 0.66 s of the event loop in one block (every send
    of the worker waited); the CSV of an export was formatted there too."""
    built: list[tuple[bool, int]] = []
    make = evidence_packet.packet

    def packet(request_view, timelines, *args):
        built.append((on_the_event_loop(), len(timelines)))
        return make(request_view, timelines, *args)

    monkeypatch.setattr(evidence_packet, "packet", packet)
    reply = exchange(served.port, request("GET", f"/evidence?{PERIOD}", headers=auth()))
    assert reply.status == 200 and built == [(False, len(NUMBERS))]
    reply = exchange(served.port, request("GET", "/evidence?number=%2B14155550150&account=acme", headers=viewer()))
    assert reply.status == 200 and built[1] == (False, 1)

    formatted: list[bool] = []
    rows = optouts_api.csv_rows

    def csv_rows(entries):
        formatted.append(on_the_event_loop())
        return rows(entries)

    monkeypatch.setattr(optouts_api, "csv_rows", csv_rows)
    data = raw_get(served.port, "/optouts.csv", viewer())
    assert data.count(b"\r\n+*") == len(NUMBERS) and formatted and not any(formatted)


def test_finding_9_scans_exports_and_period_packets_are_limited_per_worker(served, fake, tables, monkeypatch):
    """Beyond a few at once (2), a listing, an export or a period packet is a 429 with
    Retry-After, at once (it was: any number at once, four filled the event loop)."""
    at_once = getattr(optouts_api, "MAX_AT_ONCE", 2)
    entered: list[int] = []
    release = threading.Event()

    async def held_scan(host, partition, *args):
        entered.append(partition)
        while not release.is_set():
            await asyncio.sleep(0.01)

    monkeypatch.setattr(evidence_api, "_scan_partition", held_scan)
    with ThreadPoolExecutor(at_once) as pool:
        running = [pool.submit(exchange, served.port, request("GET", f"/evidence?{PERIOD}", headers=auth()), 30)
                   for _ in range(at_once)]
        try:
            deadline = time.monotonic() + 10
            while len(entered) < at_once and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(entered) == at_once
            for path, headers in (("/optouts", viewer()), ("/optouts.csv", viewer()),
                                  (f"/evidence?{PERIOD}", auth()), ("/optouts?limit=1", auth())):
                began = time.monotonic()
                reply = exchange(served.port, request("GET", path, headers=headers))
                assert reply.status == 429, (path, reply.status, reply.body[:200])
                assert reply.json()["error"] == "too_busy" and int(reply.headers["retry-after"]) > 0
                assert time.monotonic() - began < 2  # refused at once, not queued
            one = exchange(served.port, request("GET", "/evidence?number=%2B14155550150&account=acme",
                                                headers=viewer()))
            assert one.status == 200  # one number's packet is no scan: never refused for the scans
        finally:
            release.set()
        assert [f.result().status for f in running] == [200] * at_once
    assert exchange(served.port, request("GET", "/optouts", headers=viewer())).status == 200  # slots given back
    assert not [r for r in audited(fake.published) if r["status"] == 429]
