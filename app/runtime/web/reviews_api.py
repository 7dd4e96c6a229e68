"""`GET /reviews` and `POST /reviews/{review_id}`: the review queue, for a person to decide.

Listing needs the viewer or admin token, deciding the admin token (items hold numbers
and message texts); every listing is audited (:mod:`app.runtime.web.access`). A listing covers every
partition on every worker: a worker answers for the partitions it holds and asks the
others for theirs (forwarded requests, :func:`app.runtime.web.workers.ask`: only a worker's
proof gets a worker's part, which is not audited there; the listing the client gets is,
once, by the worker it asked); if any partition cannot be read, the answer is 503, never a
partial page. A decision is published to the partition of the item's number, like a reply,
and applied there once; there is no decision that opts anyone in. A decision for an item
another worker holds is forwarded to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from app.runtime.web import access, workers
from app.runtime.web.access import Grant, Role
from app.runtime.web.errors import error_response, json_answer, read_model
from app.stream import review_queue
from app.stream.routed import Kind
from schemas import ReviewDecision
from schemas.inbound import MAX_ACCOUNT_CHARS, bounded_id

if TYPE_CHECKING:
    from app.runtime.host import Host

MAX_LIMIT = 1000
SHOWN = ("review_id", "account_id", "number", "message_id", "body", "matched", "rule", "event_time", "deadline",
         "queued_at", "to", "state")


def _cursor(text: str | None) -> tuple[int, str] | None | str:
    """``<deadline ms>~<review id>`` of the last item of the previous page; 'bad' if it is not one."""
    if not text:
        return None
    ms, sep, rid = text.partition("~")
    if not sep or not ms.isdigit() or len(ms) > 16 or review_queue.partition_of(rid) is None:
        return "bad"
    return int(ms), rid


def register(app: web.Application, host: Host) -> None:
    settings = host.settings

    def local_page(account: str | None, after: tuple[int, str] | None, limit: int) -> tuple[list[dict], list[int]]:
        items, covered = [], []
        for partition in range(settings.partitions):
            state = host.local_state(partition)
            if state is None:
                continue
            covered.append(partition)
            items += review_queue.listing(state, account, after, limit, partition)
        return items, covered

    async def ask(session: aiohttp.ClientSession, url: str, request: web.Request,
                  found: Grant) -> tuple[list[dict], list[int]]:
        params = {k: v for k, v in request.query.items() if k in ("account", "state", "limit", "cursor")}
        answer = await workers.ask(session, url, "/reviews", params,
                                   access.forward_headers(settings, found, "GET", "/reviews"))
        body = answer.json()
        if answer.status != 200:
            raise RuntimeError(body.get("error", answer.status))
        return body["items"], body["partitions"]

    @access.requires(settings, Role.VIEWER)
    async def listing(request: web.Request, found: Grant) -> web.Response:
        query = request.query
        if query.get("state", "pending") != "pending":
            return error_response(400, "invalid_state", "only state=pending is listed (decided items are in "
                                  "the consent log)")
        limit_text = query.get("limit", "100")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
            return error_response(400, "invalid_limit", f"limit must be a whole number from 1 to {MAX_LIMIT}")
        limit = int(limit_text)
        after = _cursor(query.get("cursor"))
        if after == "bad":
            return error_response(400, "invalid_cursor", "cursor must be the next_cursor of a previous page")
        account = bounded_id(query["account"], MAX_ACCOUNT_CHARS) if query.get("account") else None
        items, covered = local_page(account, after, limit)  # type: ignore[arg-type]
        if found.forwarded:
            return json_answer({"items": items, "partitions": covered})
        others = workers.others(host, covered)
        answers = await workers.ask_each(others, lambda session, url: ask(session, url, request, found),
                                         "review items")
        if isinstance(answers, web.Response):
            return answers
        for their_items, their_parts in answers:
            items += their_items
            covered += their_parts
        if (refused := workers.uncovered(settings, covered)) is not None:
            return refused
        items.sort(key=lambda item: (item["deadline_ms"], item["review_id"]))
        page = items[:limit]
        next_cursor = f"{page[-1]['deadline_ms']}~{page[-1]['review_id']}" if len(items) > limit else None
        if not await access.audit(host, request, found, len(page)):
            return access.audit_failed()
        return json_answer({"items": [{k: item.get(k) for k in SHOWN} for item in page], "next_cursor": next_cursor})

    @access.requires(settings, Role.ADMIN)
    async def decide(request: web.Request, found: Grant) -> web.Response:
        rid = request.match_info["review_id"]
        partition = review_queue.partition_of(rid)
        if partition is None or partition >= settings.partitions:
            return error_response(404, "not_found", "no review item has this id")
        raw, body = await read_model(request, ReviewDecision)
        state = host.local_state(partition)
        if state is None:
            owner = host.ownership.owners.get(partition)
            if owner is None or owner == settings.web_url or found.forwarded:
                return error_response(503, "unavailable", "the partition holding this item is not ready here yet")
            path = f"/reviews/{rid}"
            return await workers.forward(owner, path, {}, access.forward_headers(settings, found, "POST", path),
                                         body=raw)
        item = review_queue.get(state, rid)
        if item is None:
            return error_response(404, "not_found", "no review item has this id")
        if item.get("state") != "pending":
            return json_answer({"status": "already_decided", "review_id": rid, "decision": item.get("decision"),
                                "decided_by": item.get("decided_by"), "decided_at": item.get("decided_at")})
        output = host.router.review_event(Kind.REVIEW_DECISION, item, decision=body.decision,
                                          decided_by=body.decided_by, note=body.note)
        try:
            await host.publish(output)
        except Exception:
            return error_response(503, "unavailable", "the decision could not be recorded now; try again")
        return json_answer({"status": "accepted", "review_id": rid, "decision": body.decision}, status=202)

    app.router.add_get("/reviews", listing)
    app.router.add_post("/reviews/{review_id}", decide)

