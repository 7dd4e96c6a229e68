"""The worker's HTTP API on aiohttp (:mod:`app.runtime.web.server`). Faust's own web
stack is not used: its built-in views (``/router``, ``/table``...) do not exist here."""

from __future__ import annotations

from app.runtime.web.server import HttpServer, make_application, web_service

__all__ = ["HttpServer", "make_application", "web_service"]
