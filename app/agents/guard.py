"""What every agent shares: origins, and never letting a record vanish.

Faust acks a record whose agent raised, so it would never be processed again.
Agents therefore catch every processing error and dead-letter the record; if
publishing itself fails, the worker is crashed so that the record's offset is
never committed and it is processed again after restart.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from app.records import Origin, Output, dead_letter

if TYPE_CHECKING:
    from faust.types import Message

    from app.faust_app import Pipeline

log = logging.getLogger("app.agents")


def origin_of(message: Message) -> Origin:
    timestamp = message.timestamp
    return Origin(
        message.topic, message.partition, message.offset, int(timestamp * 1000) if timestamp is not None else None
    )


def internal_error(pipeline: Pipeline, message: Message, exc: BaseException) -> Output:
    origin = origin_of(message)
    log.exception("internal error on %s[%d]@%d; dead-lettering", origin.topic, origin.partition, origin.offset)
    pipeline.stats.count("dead_lettered")
    return dead_letter(
        pipeline.settings.deadletter_topic,
        origin,
        f"internal error while processing: {type(exc).__name__}: {exc}",
        message.value,
        message.key,
    )


async def publish_or_crash(pipeline: Pipeline, output: Output) -> None:
    try:
        await pipeline.publish(output)
    except Exception as exc:
        log.critical("cannot publish to %s (%r): stopping the worker so the record is retried", output.topic, exc)
        await pipeline.app.crash(exc)
        raise
