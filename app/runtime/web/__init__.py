"""Faust web views (aiohttp). Faust's built-in /table endpoint is disabled."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import faust

    from app.runtime.host import Host


def register_views(app: faust.App, host: Host) -> None:
    from app.runtime.web import operator, views

    views.register(app, host)
    operator.register(app, host)
