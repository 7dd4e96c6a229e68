"""Asking the other workers: which ones hold the partitions this one does not
(:func:`others`), the 503 when a partition is held by none (:func:`uncovered`), a request
sent to a worker as a forwarded request and its answer checked (:func:`ask`), and a request
passed on to the worker holding a number, its answer passed back (:func:`forward`).

A forwarded request carries no client token: :func:`ask` signs it with the cluster's
forwarding key (:func:`app.runtime.web.access.forward_proof`: method, path, query, body
digest, time, nonce, the URL asked, the caller's role) and takes no answer the worker asked
did not sign for that nonce (:func:`app.runtime.web.access.answer_proved`): a URL that a
member of the consumer group advertises but that does not hold the cluster secret gets
nothing of value and cannot answer in a worker's name. Without a shared
``OPTOUT_CLUSTER_SECRET`` a worker asks only itself (:class:`NoClusterSecret`,
:func:`secret_missing`). Who may ask is :mod:`app.runtime.web.access`'s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from app.records import loads
from app.runtime.web import access
from app.runtime.web.errors import error_response, json_answer

if TYPE_CHECKING:
    from app.runtime.host import Host
    from app.settings import Settings

SECRET_MISSING = ("another worker holds this partition, and workers trust each other only through "
                  "OPTOUT_CLUSTER_SECRET: OPTOUT_CLUSTER_SECRET must be set on every worker (the same value)")


class NoClusterSecret(ValueError):
    """A worker without a shared cluster secret would have to ask another worker."""

    def __init__(self) -> None:
        super().__init__(SECRET_MISSING)


class NotAWorker(ValueError):
    """The URL asked answered without a valid worker's signature (or is not one of ours)."""


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


def secret_missing() -> web.Response:
    """The 503 of a worker without ``OPTOUT_CLUSTER_SECRET`` that would have to ask another."""
    return error_response(503, "unavailable", SECRET_MISSING)


def not_a_worker() -> web.Response:
    return error_response(503, "unavailable", "the URL given for the worker holding this partition did not answer "
                          "as a worker of this cluster (no valid signature)")


@dataclass(frozen=True, slots=True)
class Answer:
    """A worker's answer to a forwarded request, its signature checked."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON; ValueError if it is not."""
        return loads(self.body)


async def ask(session: aiohttp.ClientSession, url: str, path: str, params: Mapping[str, str],
              headers: access.ForwardAs, *, body: bytes = b"") -> Answer:
    """Send ``headers.method`` ``url + path`` with ``params`` (and ``body``) to the worker at
    ``url`` as a forwarded request for ``headers`` (:func:`access.forward_headers`, or a
    :class:`access.ForwardAs` without a grant for this worker's own questions); its answer,
    signed. Raises :class:`NoClusterSecret` (another worker, no shared secret),
    :class:`NotAWorker` (an answer without a valid signature), and what aiohttp raises."""
    trust = headers.trust if isinstance(headers, access.ForwardAs) else None
    if trust is None:
        raise NotAWorker("nothing to sign the request with")
    if not trust.shared and not trust.is_here(url):
        raise NoClusterSecret()
    params = {str(k): str(v) for k, v in params.items()}
    proof, nonce = access.forward_proof(trust, headers.grant, headers.method, url, path, params, body)
    sent = {access.FORWARDED: proof}
    if body:
        sent["Content-Type"] = "application/json"
    async with session.request(headers.method, f"{url}{path}", params=params, data=body or None,
                               headers=sent) as resp:
        data = await resp.read()
        if not access.answer_proved(trust, nonce, resp.status, data, resp.headers.get(access.ANSWER)):
            raise NotAWorker("the answer is not signed by a worker of this cluster")
        return Answer(resp.status, CIMultiDict(resp.headers), data)


async def ask_each(urls: Collection[str], one: Callable[[aiohttp.ClientSession, str], Awaitable[Any]],
                   what: str, *, timeout_s: float = 10) -> list | web.Response:
    """``one(session, url)`` for every worker in ``urls`` at once: their answers in ``urls``'
    sorted order, or the 503 saying why not (no shared secret, an unsigned answer, a worker
    holding ``what`` that did not answer)."""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
            return list(await asyncio.gather(*(one(session, url) for url in sorted(urls))))
    except NoClusterSecret:
        return secret_missing()
    except NotAWorker:
        return not_a_worker()
    except (aiohttp.ClientError, TimeoutError, ValueError, RuntimeError, KeyError, TypeError,
            AttributeError) as exc:
        return error_response(503, "unavailable", f"a worker holding {what} did not answer ({type(exc).__name__})")


async def forward(owner: str, path: str, params: dict[str, str], headers: access.ForwardAs, *,
                  timeout_s: float = 5, download: str | None = None, body: bytes = b"") -> web.Response:
    """``headers.method`` ``owner+path`` as a forwarded request (:func:`ask`) and its answer as
    JSON, or a 200 as a file of type ``download`` when one is given; a 503 if that worker does
    not answer, does not sign its answer, or cannot be asked without ``OPTOUT_CLUSTER_SECRET``."""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
            answer = await ask(session, owner, path, params, headers, body=body)
        if answer.status == 200 and download is not None:
            return web.Response(body=answer.body, content_type=download, headers={
                "Content-Disposition": answer.headers.get("Content-Disposition", "attachment")})
        return json_answer(answer.json(), status=answer.status)
    except NoClusterSecret:
        return secret_missing()
    except NotAWorker:
        return not_a_worker()
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return error_response(503, "unavailable",
                              f"the worker holding this number did not answer ({type(exc).__name__})")
