"""Agent 2: routed topic -> opt-out table updates, and provider / suppressed for sends.

The routed topic and the table changelog share partitioning (murmur2 of the
E.164 number), so the table read here is the number's own partition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.agents.guard import internal_error, publish_or_crash

if TYPE_CHECKING:
    from app.faust_app import Pipeline


def register_decide(pipeline: Pipeline) -> None:
    topic = pipeline.topics[pipeline.settings.routed_topic]
    decider = pipeline.decider
    table = pipeline.table

    @pipeline.app.agent(topic, name="decide", concurrency=1)
    async def decide(stream):  # type: ignore[no-untyped-def]
        async for event in stream.events():
            message = event.message
            try:
                outputs = decider.process(message.value, table)
            except Exception as exc:  # a bug must not drop the record
                outputs = [internal_error(pipeline, message, exc)]
            for output in outputs:
                await publish_or_crash(pipeline, output)
