"""Faust web views (aiohttp). Faust's built-in /table endpoint is disabled."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.faust_app import Pipeline


def register_views(pipeline: Pipeline) -> None:
    from app.web import operator, views

    views.register(pipeline)
    operator.register(pipeline)
