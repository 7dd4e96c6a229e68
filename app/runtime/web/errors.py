"""Every HTTP error this service answers is JSON: ``{"error": ..., "detail": ...}``; every
JSON answer is made here (:func:`json_answer`, :func:`error_response`), and so are the
client's errors in what a request asks (:class:`BadRequest`, :func:`read_body`,
:func:`read_model`, :func:`account_param`).

A client's input is never a reason for a 5xx, and an error never echoes what the
client sent (its path, query, headers or body): the details are fixed texts, and
whatever a library says is passed through :func:`app.domain.masking.redact` first,
so no phone number can appear in one.

Three layers: :func:`json_errors` (the middleware: HTTP exceptions, a :class:`BadRequest`,
unreadable bodies, unexpected exceptions), :class:`JsonErrorRequestHandler` (aiohttp's own
answers to requests it cannot parse, which never reach a middleware) and
:func:`error_response` which both use.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from pydantic import BaseModel, ValidationError

from app.domain.masking import redact
from app.records import loads
from schemas.inbound import MAX_ACCOUNT_CHARS, bounded_id

log = logging.getLogger("app.runtime.web")

MAX_BODY_BYTES = 64 * 1024  # an operator's opt-out is a few hundred bytes
Model = TypeVar("Model", bound=BaseModel)
Default = TypeVar("Default", str, None)


def dumps(value: Any) -> str:
    """JSON for every answer: ASCII only (a lone surrogate is escaped, never an error)."""
    return json.dumps(value, default=str)


def json_answer(value: object, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response(value, status=status, headers=headers, dumps=dumps)


def error_response(status: int, error: str, detail: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    return json_answer({"error": error, "detail": _redacted(detail)}, status=status, headers=headers)


def _redacted(detail: Any) -> Any:
    if isinstance(detail, str):
        return redact(detail)
    if isinstance(detail, list):
        return [_redacted(d) for d in detail]
    return detail


def _error_name(exc: web.HTTPException) -> str:
    return exc.reason.lower().replace(" ", "_").replace("-", "_")


class UnreadableBody(web.HTTPBadRequest):
    """A body that cannot be read: a broken chunked encoding, a bad compressed stream, a short body."""


class BadRequest(web.HTTPBadRequest):
    """What a request asks cannot be answered: :func:`json_errors` answers 400 with ``error`` and ``detail``."""

    def __init__(self, error: str, detail: Any) -> None:
        super().__init__()
        self.error, self.detail = error, detail


def _detail(exc: web.HTTPException) -> str:
    if isinstance(exc, UnreadableBody):
        return "the request body could not be read"
    if isinstance(exc, web.HTTPNotFound):
        return "no such resource"
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return f"method not allowed here; allowed: {', '.join(sorted(exc.allowed_methods))}"
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return "request body too large"
    return exc.reason


async def read_body(request: web.Request) -> bytes:
    """The request body; one that cannot be read is the client's error: 400. One announced
    over the limit is refused before it is read (413)."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=request.content_length)
    try:
        return await request.read()
    except web.HTTPException:
        raise  # 413 when over the limit
    except (web.RequestPayloadError, HttpProcessingError, ValueError) as exc:
        raise UnreadableBody() from exc


async def read_model(request: web.Request, model: type[Model]) -> tuple[bytes, Model]:
    """The request body and what it says as ``model``; :class:`BadRequest` (``invalid_request``)
    if it is not JSON or not a valid ``model``. A field is named only when it is one of the
    model's: a client's unknown key is not echoed."""
    raw = await read_body(request)
    try:
        return raw, model.model_validate(loads(raw))
    except ValidationError as exc:
        fields = model.model_fields
        raise BadRequest("invalid_request", [
            f"{'.'.join(str(p) if p in fields else '(unknown field)' for p in e['loc']) or '(body)'}: {e['msg']}"
            for e in exc.errors()]) from None
    except ValueError as exc:  # not JSON (orjson's message gives the position, not the text)
        raise BadRequest("invalid_request", f"body is not valid JSON: {exc}") from None


def account_param(query: Mapping[str, str], default: Default) -> str | Default:
    """The ``account`` a request asks for, keyed as replies and sends are (a long one by its hash);
    ``default`` when it does not ask. An empty one is a :class:`BadRequest`."""
    account = query.get("account")
    if account is None:
        return default
    if not account:
        raise BadRequest("invalid_account", "account must not be empty")
    return bounded_id(account, MAX_ACCOUNT_CHARS)


@web.middleware
async def json_errors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    try:
        return await handler(request)
    except BadRequest as exc:
        return error_response(400, exc.error, exc.detail)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k == "Allow"}
        return error_response(exc.status, _error_name(exc), _detail(exc), headers)
    except (web.RequestPayloadError, HttpProcessingError):
        return error_response(400, "bad_request", "the request body could not be read")
    except ConnectionError:
        raise  # the client went away: aiohttp drops the connection quietly
    except Exception:
        route = request.match_info.route.resource
        where = route.canonical if route is not None else "(no route)"
        log.exception("unexpected error answering %s %s", request.method, where)
        return error_response(500, "internal_error", "unexpected error; it has been logged")


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, LineTooLong):
        return "the request line or a header is too long"
    if isinstance(exc, HttpProcessingError):
        return "malformed HTTP request"
    return "the request could not be handled"


class JsonErrorRequestHandler(web.RequestHandler):
    """aiohttp's connection handler, answering what it cannot parse (a request line or
    header over the limits, invalid characters, a bad method) with JSON that says what
    was wrong, never with the request's text (aiohttp's own answer, text/plain, quotes
    the first 100 bytes of the offending line, and logs them)."""

    def handle_error(self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if status >= 500:
            log.error("unexpected error answering a request (%s)", type(exc).__name__ if exc else status,
                      exc_info=exc)
        else:
            log.debug("bad request from %s: %s (%s)", request.remote, _describe(exc), type(exc).__name__)
        if request.writer.output_size > 0:  # part of an answer is sent: the connection is broken
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        if status >= 500:
            resp = error_response(status, "internal_error", "unexpected error; it has been logged")
        else:
            resp = error_response(status, "bad_request", _describe(exc))
        resp.force_close()
        return resp

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        # After an answer, aiohttp reads what is left of the body; a broken one (bad
        # chunking or compression) raises there and would be logged as an ERROR with its
        # traceback: it is the client's error, already answered with a 400.
        exc = kwargs.get("exc_info")
        if isinstance(exc, (web.RequestPayloadError, HttpProcessingError)):
            log.debug("unreadable rest of a request body (%s)", type(exc).__name__)
            return
        super().log_exception(*args, **kwargs)
