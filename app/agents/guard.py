"""Never letting a record vanish: origins and dead letters for internal errors.

A processing error (a bug) dead-letters the record with the original bytes
instead of dropping it; if publishing itself fails, the batch processor
crashes the worker so the record's offset is never committed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from app.records import Origin, Output, dead_letter

if TYPE_CHECKING:
    from app.agents.batch import Record
    from app.faust_app import Pipeline

log = logging.getLogger("app.agents")


def origin_of(record: Record) -> Origin:
    return Origin(record.topic, record.partition, record.offset, record.timestamp_ms)


def internal_error(pipeline: Pipeline, message: Record, exc: BaseException) -> Output:
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

