"""Asking the other workers: which ones hold the partitions this one does not
(:func:`others`), the 503 when a partition is held by none (:func:`uncovered`), and a
request passed on to the worker holding a number, its answer passed back (:func:`forward`).
Who may ask, and the headers that prove a worker forwarded it, are :mod:`app.runtime.web.access`'s."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from app.runtime.web.errors import error_response, json_answer

if TYPE_CHECKING:
    from app.runtime.host import Host
    from app.settings import Settings


def others(host: Host, covered: Collection[int]) -> set[str]:
    """The workers (their URLs) holding a partition not in ``covered``, this one excepted."""
    here = host.settings.web_url
    return {url for p, url in host.ownership.owners.items() if p not in covered and url != here}


def uncovered(settings: Settings, covered: Collection[int]) -> web.Response | None:
    """The 503 when a partition is not in ``covered`` (never a partial answer); else None."""
    missing = sorted(set(range(settings.partitions)) - set(covered))
    if missing:
        return error_response(503, "unavailable", f"partitions {missing} are not ready on any worker yet")
    return None


async def forward(owner: str, path: str, params: dict[str, str], headers: dict[str, str], *,
                  timeout_s: float = 5, download: str | None = None) -> web.Response:
    """``GET owner+path`` and its answer as JSON, or a 200 as a file of type ``download`` when
    one is given; a 503 if that worker does not answer."""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session, \
                session.get(f"{owner}{path}", params=params, headers=headers) as resp:
            if resp.status == 200 and download is not None:
                return web.Response(body=await resp.read(), content_type=download, headers={
                    "Content-Disposition": resp.headers.get("Content-Disposition", "attachment")})
            return json_answer(await resp.json(), status=resp.status)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return error_response(503, "unavailable",
                              f"the worker holding this number did not answer ({type(exc).__name__})")
