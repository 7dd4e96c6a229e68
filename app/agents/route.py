"""Agent 1: `sms.inbound` + `sms.outbound` + `sms.status` -> routed topic (by E.164), or suppressed / dead letter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.agents.guard import internal_error, origin_of, publish_or_crash
from app.agents.reply_first import ReplyFirstGate

if TYPE_CHECKING:
    from app.faust_app import Pipeline


def register_route(pipeline: Pipeline) -> None:
    s = pipeline.settings
    source = pipeline.app.topic(s.inbound_topic, s.outbound_topic, s.status_topic)
    router = pipeline.router
    gate = ReplyFirstGate(pipeline)
    gate.install()
    first_topics = gate.first_topics

    @pipeline.app.agent(source, name="route", concurrency=1)
    async def route(stream):  # type: ignore[no-untyped-def]
        async for event in stream.events():
            message = event.message
            try:
                output = router.route(origin_of(message), message.key, message.value)
            except Exception as exc:  # a bug must not drop the record
                output = internal_error(pipeline, message, exc)
            if output is None:
                pipeline.stats.count("receipts_ignored")
            else:
                await publish_or_crash(pipeline, output)
            if message.topic in first_topics:
                gate.routed_offset(message.tp, message.offset)
