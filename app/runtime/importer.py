"""`import-optouts`: publish an :class:`~app.intake.import_file.ImportPlan` the way `POST /optouts` does.

Each number becomes the routed record ``Router.operator_opt_out`` makes (kind
``operator``, key = the E.164 number, explicit partition), published with the
worker's own idempotent producer (``KafkaOutputs``: acks=all, idempotence, one
record batch per partition per call) and every delivery awaited. The message
id is deterministic (:func:`app.intake.import_file.import_message_id`), so a second
import of the same file is a replay the decider drops: no state change, no
consent record.

What became of each opt-out is the worker's to decide; the CLI cannot read the
table. So, unless told not to wait, it waits until the worker group has
committed its offsets past every record it published (the checkpoint commits
only after the consent records are acknowledged), then reads ``sms.consent``
from where it ended before the import and counts, by message id: ``applied``
(newly opted out), ``unchanged`` (opted out before), ``stale``, and the ids
with no consent record at all: replays of an earlier import of this file.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from app.engine.failures import NotAcknowledged
from app.engine.inputs import TP
from app.intake.import_file import ImportPlan, import_message_id, import_reason, import_requested_by
from app.records import Output, loads
from app.runtime.kafka_ports import KafkaOutputs
from app.runtime.kafka_security import kafka_client_options
from app.runtime.topics import ensure_topics
from app.settings import Settings
from app.stream.counters import Stats
from app.stream.router import Router

CHUNK = 8192  # records per producer call: one batch per partition, up to 512 KiB each
IN_FLIGHT = 4  # producer calls awaiting their acknowledgements at once
MARKER = b'"message_id":"import:'

ProgressFn = Callable[[str, int, int], None]  # (phase, done, total)


def _no_progress(phase: str, done: int, total: int) -> None:
    pass


async def publish_import(settings: Settings, plan: ImportPlan, *, account_id: str, file_name: str,
                         wait_seconds: float, progress: ProgressFn = _no_progress) -> dict[str, Any]:
    """Publish every number of ``plan``; return what was sent, what failed and, if the worker
    decided them within ``wait_seconds``, the outcomes (see the module's docstring)."""
    await ensure_topics(settings)  # also checks the routed topic's partition count
    router = Router(settings, Stats())
    reason, requested_by = import_reason(file_name), import_requested_by(file_name)
    outputs = KafkaOutputs(settings)
    await outputs.start([settings.routed_topic, settings.consent_topic])
    try:
        consent_tps = [TP(settings.consent_topic, p) for p in range(outputs.partitions(settings.consent_topic))]
        consent_start = await outputs.end_offsets(consent_tps)
        routed_tps = [TP(settings.routed_topic, p) for p in range(outputs.partitions(settings.routed_topic))]
        routed_start = {tp.partition: offset for tp, offset in (await outputs.end_offsets(routed_tps)).items()}
        started = time.monotonic()
        sent_ids, failed, last_offsets, first_error = await _publish(
            outputs, plan, router, account_id, file_name, reason, requested_by, progress)
        result: dict[str, Any] = {
            "sent": len(sent_ids), "failed": failed, "publish_seconds": round(time.monotonic() - started, 3),
            "outcomes": None,
        }
        if first_error:
            result["error"] = first_error
        if not sent_ids:
            result["why_no_outcomes"] = "nothing was sent"
            return result
        if wait_seconds <= 0:
            result["why_no_outcomes"] = "not awaited (--wait 0)"
            return result
        try:
            if not await _wait_committed(settings, routed_start, last_offsets, wait_seconds, progress):
                result["why_no_outcomes"] = (f"no worker of group {settings.app_id!r} read them within "
                                             f"{wait_seconds:g} s")
                return result
            verdicts = await _consent_verdicts(settings, consent_start, set(sent_ids))
        except Exception as exc:  # published and acknowledged all the same: say what is not known
            result["why_no_outcomes"] = f"the outcomes could not be read ({type(exc).__name__}: {exc})"
            return result
        counts = {"applied": 0, "unchanged": 0, "stale": 0}
        for verdict in verdicts.values():
            counts[verdict if verdict in counts else "stale"] += 1
        counts["replayed"] = len(sent_ids) - len(verdicts)
        result["outcomes"] = counts
        result["decide_seconds"] = round(time.monotonic() - started - result["publish_seconds"], 3)
        return result
    finally:
        await outputs.stop()


async def _publish(outputs: KafkaOutputs, plan: ImportPlan, router: Router, account_id: str, file_name: str,
                   reason: str, requested_by: str, progress: ProgressFn,
                   ) -> tuple[list[str], int, dict[int, int], str | None]:
    """Send in chunks, ``IN_FLIGHT`` chunks unacknowledged at most; observe every acknowledgement."""
    total = len(plan.entries)
    sent_ids: list[str] = []
    failed = 0
    first_error: str | None = None
    last_offsets: dict[int, int] = {}  # routed partition -> highest offset acknowledged
    pending: list[tuple[asyncio.Future, list[str]]] = []
    done = 0

    async def settle(future: asyncio.Future, ids: list[str]) -> None:
        nonlocal failed, first_error, done
        try:
            for acked in await future:
                last_offsets[acked.partition] = max(acked.offset, last_offsets.get(acked.partition, -1))
            sent_ids.extend(ids)
        except (NotAcknowledged, OSError, asyncio.TimeoutError) as exc:
            failed += len(ids)
            first_error = first_error or str(exc)
        done += len(ids)
        progress("publishing", done, total)

    progress("publishing", 0, total)
    for start in range(0, total, CHUNK):
        chunk: list[Output] = []
        ids: list[str] = []
        for entry in plan.entries[start:start + CHUNK]:
            message_id = import_message_id(account_id, entry.number, file_name)
            chunk.append(router.operator_opt_out(entry.number, account_id, reason, requested_by, message_id))
            ids.append(message_id)
        try:
            future = await outputs.send(chunk)
        except Exception as exc:  # not handed over (broker gone, record too large): counted, never hidden
            failed += len(ids)
            first_error = first_error or f"{type(exc).__name__}: {exc}"
            done += len(ids)
            progress("publishing", done, total)
            continue
        pending.append((future, ids))
        if len(pending) >= IN_FLIGHT:
            await settle(*pending.pop(0))
    for future, ids in pending:
        await settle(future, ids)
    return sent_ids, failed, last_offsets, first_error


async def _wait_committed(settings: Settings, base: dict[int, int], last_offsets: dict[int, int],
                          wait_seconds: float, progress: ProgressFn) -> bool:
    """Until the worker group's committed offset passes every routed record we published
    (``base``: the routed topic's end offsets before; progress counts the records in between)."""
    admin = AIOKafkaAdminClient(**kafka_client_options(settings), request_timeout_ms=10_000)
    await admin.start()
    tps = [TopicPartition(settings.routed_topic, p) for p in sorted(last_offsets)]
    targets = {tp: last_offsets[tp.partition] + 1 for tp in tps}
    deadline = time.monotonic() + wait_seconds
    span = sum(max(0, targets[tp] - base.get(tp.partition, 0)) for tp in tps)
    try:
        while True:
            try:
                committed = await admin.list_consumer_group_offsets(settings.app_id, partitions=tps)
            except Exception:  # the coordinator is moving: ask again
                committed = {}
            offsets = {tp: committed[tp].offset if tp in committed else -1 for tp in tps}
            remaining = sum(max(0, targets[tp] - max(offsets[tp], base.get(tp.partition, 0))) for tp in tps)
            progress("applying", span - min(span, remaining), span)
            if remaining == 0:
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.25)
    finally:
        await admin.close()


async def _consent_verdicts(settings: Settings, start: dict[TP, int], ids: set[str]) -> dict[str, str]:
    """message id -> verdict of the consent records written for ``ids`` since ``start``."""
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), enable_auto_commit=False, group_id=None,
                                isolation_level="read_committed")
    await consumer.start()
    verdicts: dict[str, str] = {}
    try:
        tps = [TopicPartition(tp.topic, tp.partition) for tp in start]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)  # read_committed: the last stable offsets
        todo = {tp for tp in tps if ends[tp] > start[TP(tp.topic, tp.partition)]}
        for tp in tps:
            consumer.seek(tp, start[TP(tp.topic, tp.partition)])
        while todo:
            batches = await consumer.getmany(*todo, timeout_ms=500, max_records=10_000)
            for tp, records in batches.items():
                _collect(records, ids, verdicts)
            for tp in list(todo):
                if await consumer.position(tp) >= ends[tp]:
                    todo.discard(tp)
    finally:
        await consumer.stop()
    return verdicts


def _collect(records: Iterable[Any], ids: set[str], verdicts: dict[str, str]) -> None:
    for record in records:
        value = record.value
        if not value or MARKER not in value:
            continue
        try:
            entry = loads(value)
        except ValueError:
            continue
        message_id = entry.get("message_id")
        if message_id in ids and message_id not in verdicts:  # a record written twice counts once
            verdicts[message_id] = str(entry.get("verdict"))
