"""Every HTTP error this service answers is JSON: ``{"error": ..., "detail": ...}``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web


@web.middleware
async def json_errors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error = exc.reason.lower().replace(" ", "_")
        return web.json_response({"error": error, "detail": f"{request.method} {request.path}: {exc.reason}"},
                                 status=exc.status, headers={k: v for k, v in exc.headers.items() if k == "Allow"})
