"""Table changelog records (recovery and standby replicas), applied a batch at a time.

Faust's recovery takes each changelog record through the conductor, a queue and
an ``asyncio.wait_for`` per record, and decodes its value: about 200 µs a
record, so 1,000,000 opt-outs took minutes to recover. The batch consumer
hands those records here instead; they are written with the table store's own
``apply_changelog_batch`` (one RocksDB write batch per partition, persisted
offsets included), and Faust's recovery bookkeeping (active and standby offsets,
the end-of-recovery signal) is kept exactly as its own loop keeps it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import faust
    from faust.types import TP

log = logging.getLogger("app.changelog")


class ChangelogRecord:
    """A fetched changelog record, shaped as ``Store.apply_changelog_batch`` reads an
    event (``event.message.tp/.partition/.offset/.key/.value``), without building one."""

    __slots__ = ("key", "offset", "partition", "tp", "value")

    def __init__(self, tp: TP, record: Any) -> None:
        self.tp = tp
        self.partition = record.partition
        self.offset = record.offset
        self.key = record.key
        self.value = record.value

    @property
    def message(self) -> ChangelogRecord:
        return self


class ChangelogApplier:
    def __init__(self, app: faust.App, table: faust.Table) -> None:
        self.app = app
        self.table = table
        self.topic = table.changelog_topic.get_topic_name()

    def apply(self, messages: list[ChangelogRecord]) -> None:
        recovery = self.app.tables.recovery
        active_tps, standby_tps = recovery.active_tps, recovery.standby_tps
        records = []
        for message in messages:
            tp = message.tp
            if tp in active_tps:
                offsets = recovery.active_offsets
            elif tp in standby_tps:
                offsets = recovery.standby_offsets
            else:
                log.warning("changelog record of a partition neither active nor standby here: %s", tp)
                continue
            seen = offsets.get(tp)
            if seen is None or message.offset > seen:
                offsets[tp] = message.offset
                records.append(message)
        if records:
            self.table.apply_changelog_batch(records)
        if recovery.in_recovery and not recovery.need_recovery():
            # the same steps as Faust's Recovery._slurp_changelogs at the end of recovery
            recovery.flush_buffers()
            recovery._set_recovery_ended()
            recovery.signal_recovery_end.set()

