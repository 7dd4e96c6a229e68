"""The worker's real web server, in-process and without Kafka: the Faust app of
:func:`app.runtime.faust_app.build_app`, started in a thread of its own, with the
engine's start and stop left out and the few host methods the views call replaced
by fakes (readiness, the table, the broker). A second server, on the same host, has
aiohttp's access log on, so that its lines are checked too."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import socket
import threading
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import pytest

from app.stream.partitioner import partition_for

TOKEN = "s3cret-tøken-of-the-admin"  # the admin token
VIEWER_TOKEN = "v1ewer-token-for-reading"
CLUSTER_SECRET = "the-workers-own-secret"  # OPTOUT_CLUSTER_SECRET: what the workers (only) share


@dataclass
class FakeState:
    ready: bool = True
    local: bool = True  # False: partitions are owned by another worker, at ``owner``
    owner: str = "http://127.0.0.1:9"  # (nobody answers there)
    published: list = field(default_factory=list)
    refuse_publish: bool = False
    table: dict = field(default_factory=dict)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Served:
    def __init__(self, tmp_path) -> None:
        from app.runtime.faust_app import build_app
        from app.runtime.web import HttpServer, make_application
        from app.settings import Settings

        self.state = FakeState()
        self.settings = Settings(data_dir=tmp_path, admin_token=TOKEN, viewer_token=VIEWER_TOKEN, web_port=free_port(),
                                 kafka_bootstrap_servers="127.0.0.1:1", partitions=8, cluster_secret=CLUSTER_SECRET)
        self.port = self.settings.web_port
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        async def start() -> None:
            self.app, self.host = build_app(self.settings)
            self._fake(self.host)
            await self.app.start()
            self.access = HttpServer(make_application(self.host), "127.0.0.1", 0,
                                     access_log=logging.getLogger("aiohttp.access"))
            await self.access.start()
            self.access_port = self.access.port

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(start())
            except BaseException as exc:
                failure.append(exc)
                started.set()
                return
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="web-under-test", daemon=True)
        self.thread.start()
        started.wait(30)
        if failure:
            raise failure[0]

    def _fake(self, host) -> None:
        state = self.state

        async def nothing() -> None:
            return None

        async def publish(output) -> None:
            if state.refuse_publish:
                raise ConnectionError("broker down")
            state.published.append(output)

        def owner_of(number: str):
            partition = partition_for(number, self.settings.partitions)
            return partition, (self.settings.web_url if state.local else state.owner)

        host.start = nothing
        host.stop = nothing
        host.publish = publish
        host.owner_of = owner_of
        host.health = lambda: ({"ready": True, "problems": [], "worker": "w"} if state.ready
                               else {"ready": False, "problems": ["starting"], "worker": "w"})
        host.local_state = lambda partition: state.table if state.ready and state.local else None

    def stop(self) -> None:
        async def stop() -> None:
            await self.access.stop()
            await self.app.stop()
            # what is left (aiohttp reading the rest of an unread body for a while): cancelled
            left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in left:
                task.cancel()
            await asyncio.gather(*left, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()


class Peer:
    """Another "worker" at ``url``, on the served server's loop: a plain aiohttp application
    whose every request is answered by ``answer(request) -> (status, JSON body)`` and kept in
    ``seen`` (method, path and query, headers, body, the checked proof). ``holds_secret``: it
    holds the cluster's keys (checks the proofs and signs its answers as a worker does);
    otherwise it is a URL some member of the group advertises, and answers as it likes."""

    def __init__(self, served: Served, answer, *, holds_secret: bool = True) -> None:
        from aiohttp import web

        from app.runtime.web import access

        self.served, self.answer = served, answer
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.seen: list[dict] = []
        middlewares = [access.sign_answers, access.check_forwarding] if holds_secret else []
        app = web.Application(middlewares=middlewares)
        if holds_secret:
            trust = access.Trust(served.settings, served.host.cluster_keys, "peer")
            trust.answers_at(self.url)
            app[access.TRUST] = trust

        async def handle(request: web.Request) -> web.Response:
            body = await request.read()
            self.seen.append({"method": request.method, "asked": request.path_qs, "headers": dict(request.headers),
                              "body": body, "proved": request.get(access.PROVED) if holds_secret else None})
            status, value = self.answer(request)
            return web.json_response(value, status=status)

        app.router.add_route("*", "/{tail:.*}", handle)
        self.app = app

    def __enter__(self) -> Peer:
        from aiohttp import web

        async def start() -> web.AppRunner:
            runner = web.AppRunner(self.app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port).start()
            return runner

        self.runner = asyncio.run_coroutine_threadsafe(start(), self.served.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.served.loop).result(10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.stream = io.StringIO()
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lock_ = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        with self.lock_:
            self.stream.write(line + "\n")

    def text(self) -> str:
        with self.lock_:
            return self.stream.getvalue()


@pytest.fixture(scope="package")
def logs():
    root = logging.getLogger()
    level, factory = root.level, logging.getLogRecordFactory()
    capture = LogCapture()
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    for name in ("asyncio", "aiokafka", "faust", "mode"):  # not ours, and noisy at DEBUG
        logging.getLogger(name).setLevel(logging.INFO)
    yield capture
    root.removeHandler(capture)
    root.setLevel(level)
    logging.setLogRecordFactory(factory)


@pytest.fixture(scope="package")
def served(logs, tmp_path_factory):
    served = Served(tmp_path_factory.mktemp("web"))
    yield served
    served.stop()


@pytest.fixture
def fake(served):
    state = served.state
    state.ready, state.local, state.refuse_publish, state.owner = True, True, False, "http://127.0.0.1:9"
    state.published.clear()
    yield state
    state.ready, state.local, state.refuse_publish, state.owner = True, True, False, "http://127.0.0.1:9"


def exchange(port: int, raw: bytes, timeout: float = 10.0) -> Reply:
    """Send ``raw`` bytes as they are; read one answer (skipping a 100 Continue)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking everything
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
            reply = _parse(data)
            if reply is not None and len(reply.body) >= int(reply.headers.get("content-length", "-1")) >= 0:
                break
    reply = _parse(data)
    assert reply is not None, f"no answer to {raw[:200]!r}: {data[:200]!r}"
    return reply


def _parse(data: bytes) -> Reply | None:
    while data.startswith(b"HTTP/1.1 100"):
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return None
        data = data[end + 4:]
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = headers.get("content-length")
    return Reply(status, headers, body[: int(length)] if length is not None else body)


def request(method: str, path: str | bytes, *, headers: dict[str, str | bytes] | None = None,
            body: bytes = b"") -> bytes:
    target = path.encode() if isinstance(path, str) else path
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1"]
    for k, v in (headers or {}).items():
        lines.append(k.encode() + b": " + (v.encode() if isinstance(v, str) else v))
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(b"Content-Length: " + str(len(body)).encode())
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def auth(token: str = TOKEN) -> dict[str, bytes]:
    return {"Authorization": b"Bearer " + token.encode()}


def viewer() -> dict[str, bytes]:
    return auth(VIEWER_TOKEN)


def audited(published: list) -> list[dict]:
    """The audit records among what the fake host published."""
    return [json.loads(o.value) for o in published if o.topic == "sms.audit"]


def not_audit(published: list) -> list:
    return [o for o in published if o.topic != "sms.audit"]


# ------------------------------------------------------------ what must never show


def ascii_digits(text: str) -> str:
    """Digits of any script as ASCII; percent-encoded digits decoded, %2X separators dropped."""
    text = re.sub(r"%3([0-9])", r"\1", re.sub(r"%2[0-9a-fA-F]", " ", text))
    return "".join(str(unicodedata.digit(c)) if c.isdigit() else c for c in text)


def digit_runs(text: str, at_least: int) -> list[str]:
    return re.findall(rf"[0-9]{{{at_least},}}", ascii_digits(text))


def written_anywhere(digits: str, text: str) -> bool:
    """Is the digit string ``digits`` in ``text``, in any script, with any separators?"""
    pattern = r"[^0-9A-Za-z*]{0,3}".join(digits)
    return re.search(pattern, ascii_digits(text)) is not None


def assert_no_number_logged(logs: LogCapture, numbers: list[str]) -> None:
    text = logs.text()
    assert not digit_runs(text, 7), f"a run of 7+ digits in the log: {digit_runs(text, 7)[:5]}"
    leaked = [n for n in numbers if written_anywhere(n, text)]
    assert not leaked, f"phone numbers in the log: {leaked[:5]}"
