"""The worker's HTTP server: our own aiohttp application, registered with Faust as the
worker's web server (:meth:`faust.App.web_server`), so Faust's own web stack and its
built-in views (``/router``, ``/table``, ``/``, ``/graph``, ``/stats``...) are never
built: only the routes below exist.

    GET  /health            GET  /stats
    GET  /optouts/{number}  POST /optouts
    GET  /  (the dashboard: app/runtime/web/dashboard.py)
    GET  /metrics  GET /livez  GET /readyz  (app/runtime/web/stats_api.py, probes.py)
    GET  /openapi.json      the OpenAPI 3.1 document of all of them (app/runtime/web/openapi.py)

Every other path is a JSON 404, every other method a JSON 405; requests aiohttp
cannot parse get a JSON 400 (:class:`JsonErrorRequestHandler`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import aiohttp
import mode
from aiohttp import web

from app.runtime.web import (
    access,
    dashboard,
    evidence_api,
    operator_api,
    optouts_api,
    probes,
    reviews_api,
    stats_api,
    timeline_api,
    views,
)
from app.runtime.web.errors import MAX_BODY_BYTES, JsonErrorRequestHandler, json_errors

if TYPE_CHECKING:
    from app.runtime.host import Host

MAX_LINE_BYTES = 8190  # request line and each header (aiohttp's default)
MAX_HEADERS = 100


def make_application(host: Host) -> web.Application:
    # outermost first: answers to forwarded requests signed (errors too), then every error as
    # JSON, then a forwarded request's proof checked before any handler (app/runtime/web/access.py)
    app = web.Application(middlewares=[access.sign_answers, json_errors, access.check_forwarding],
                          client_max_size=MAX_BODY_BYTES)
    access.install(app, host)
    views.register(app, host)
    operator_api.register(app, host)
    reviews_api.register(app, host)
    stats_api.register(app, host)  # GET /stats, GET /metrics
    probes.register(app, host)  # GET /livez, GET /readyz
    timeline_api.register(app, host)
    evidence_api.register(app, host)  # GET /evidence
    dashboard.register(app, host)
    optouts_api.register(app, host)
    # GET /openapi.json (imported here: `python -m app.runtime.web.openapi` runs that module as __main__)
    from app.runtime.web import openapi

    openapi.register(app, host)
    return app


class HttpServer:
    """An aiohttp application served with :class:`JsonErrorRequestHandler` as the
    connection handler (aiohttp's sites would use its own)."""

    def __init__(self, app: web.Application, host: str, port: int, *,
                 access_log: logging.Logger | None = None) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.access_log = access_log  # off by default, as Faust had it
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None

    def handler_options(self) -> dict[str, Any]:
        return {"access_log": self.access_log, "max_line_size": MAX_LINE_BYTES,
                "max_field_size": MAX_LINE_BYTES, "max_headers": MAX_HEADERS}

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=self.access_log)
        await self._runner.setup()
        server = self._runner.server
        assert server is not None
        options = self.handler_options()
        self._listener = await loop.create_server(
            lambda: JsonErrorRequestHandler(server, loop=loop, **options), self.host, self.port, reuse_address=True)
        if self.port == 0:
            self.port = self._listener.sockets[0].getsockname()[1]
        trust = self.app.get(access.TRUST)
        if trust is not None and self.host not in ("0.0.0.0", "::", ""):
            # a forwarded request's proof names the URL it was sent to: OPTOUT_WEB_URL, or this address
            host = f"[{self.host}]" if ":" in self.host else self.host
            trust.answers_at(f"http://{host}:{self.port}")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
        if self._runner is not None:
            await self._runner.cleanup()  # answers in progress finish; idle connections close
        if self._listener is not None:
            await self._listener.wait_closed()
        self._listener = self._runner = None


def web_service(host: Host) -> type[mode.Service]:
    """The :class:`mode.Service` Faust starts as the worker's web server."""
    settings = host.settings

    class WebServer(mode.Service):
        web_url = settings.web_url
        driver_version = f"aiohttp={aiohttp.__version__}"

        def __post_init__(self) -> None:
            self.http = HttpServer(make_application(host), settings.web_host, settings.web_port)

        async def on_start(self) -> None:
            await self.http.start()

        async def on_stop(self) -> None:
            await self.http.stop()

    return WebServer
