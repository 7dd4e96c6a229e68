"""What a batch of records becomes: routing, consent, and sends held until replies are in.

Records of the input topics are routed (stateless). Records of the routed topic
are decided against their partition's state. A send is decided only once every
reply acknowledged before it was produced is applied to its partition
(:mod:`app.engine.reply_gate`: broker offsets, no clock); until then it is held,
in offset order, and the partition keeps being read: the replies that must be
applied first are behind it. The offset committed for a routed partition never
passes its oldest held send.

**What a send is decided against is fixed by the broker's logs, not by timing.** While sends
are held, a record read behind them that changes state waits in the queue too: it is
applied just before the first held send whose stamp it lies below (that send must see it:
the reply may have come first), else after every held send (each of them was produced
before it was acknowledged). So a send is decided against its partition's records before
it and the replies acknowledged before it was produced, wherever and whenever it is
decided: a replay after a kill or a failed checkpoint (at-least-once), or another owner,
decides it as the first decision did, and a send never has two kinds of outcome. A STOP
acknowledged after a send was produced does not suppress it, whenever it is applied.

The compliance figures (``GET /stats``, :mod:`app.stream.figures`) are counted here, in one
place, from the outputs each batch made (:mod:`app.stream.tally`), and added to the state of
the routed partition that made them, once per batch: they become durable in the same
checkpoint as the state they describe. Records that end while being routed (dead
letters, sends with no or an invalid number) have no routed partition: their outcomes
are sent on, once per batch and input partition, as one small ``tally`` record to a
routed partition chosen from the input partition's name, and counted there (deduplicated
by input offset, like every routed record).
"""

from __future__ import annotations

import logging
import time
import zlib
from collections import deque
from collections.abc import Callable

from app.engine.inputs import TP, InRecord
from app.engine.reply_gate import ReplyGate, Stamp, below, decode_stamp, encode_stamp
from app.engine.state import PartitionState
from app.records import Origin, Output, dead_letter, dumps, loads
from app.settings import Settings
from app.stream import figures
from app.stream.counters import Stats
from app.stream.decider import Decider
from app.stream.keys import ORIGINS_KEY
from app.stream.routed import TALLY_RECORD_KEY, Kind, RoutedSend, TallyRecord
from app.stream.router import Router
from app.stream.tally import Tally, Topics, route_outcome

log = logging.getLogger("app.engine")

MAX_TALLY_ENTRIES = 5_000  # per tally record (each entry ~30 bytes)
OBSERVATIONS_KEPT = 32  # per send partition (an older one dropped only makes sends after a START wait less known)

# on_batch(tallies of the batch, seconds the batch took (None: held sends released), age in
# ms of the batch's first record when processed (None: none)): metrics, once per batch
BatchObserver = Callable[[list[Tally], float | None, int | None], None]


class Deferred:
    """A record read behind held sends, applied in its place among them (module docstring)."""

    __slots__ = ("offset", "routed", "value")

    def __init__(self, offset: int, routed: dict, value: bytes | None) -> None:
        self.offset = offset
        self.routed = routed
        self.value = value


class Held:
    __slots__ = ("offset", "routed", "since_ms", "source", "stamp")

    def __init__(self, offset: int | None, routed: RoutedSend, stamp: Stamp | None, since_ms: int,
                 source: int | None = None) -> None:
        # its offset in the routed partition; decided in place: the routed position it was read at
        # (None: not known yet, and the routed partition's offset is not committed while it is first)
        self.offset = offset
        self.routed = routed
        self.stamp = stamp  # the reply ends it waits for (None: none known yet, held until there are)
        self.since_ms = since_ms
        self.source = source  # decided in place: its offset in the send partition (None: routed)


class Processor:
    def __init__(self, settings: Settings, router: Router, decider: Decider, stats: Stats,
                 clock_ms: Callable[[], int], on_batch: BatchObserver | None = None) -> None:
        self.settings = settings
        self.router = router
        self.decider = decider
        self.stats = stats
        self.clock_ms = clock_ms
        self.routed_topic = settings.routed_topic
        self.states: dict[int, PartitionState] = {}
        # per routed partition: held sends in offset order, and the records deferred among them
        # (the first entry is always a send)
        self.held: dict[int, deque[Held | Deferred]] = {}
        self._deferred: dict[int, int] = {}  # per routed partition: how many of ``held`` are Deferred
        self._stamp_raw: list | None = None  # the last stamp read from a routed send, and ...
        self._stamp_read: Stamp | None = None  # ... what it decoded to (consecutive sends share it)
        self.positions: dict[TP, int] = {}  # next offset to process, per partition processed here
        self.gate = ReplyGate()
        self._stamp: Stamp | None = None  # the reply ends of the batch being processed
        self._stamp_encoded: list | None = None  # ... as routed sends carry it (encoded once a batch)
        self._open_stamp: dict[int, Stamp] = {}  # per routed partition: the last stamp found covered
        # per input partition of sends: (its end offset, the replies' ends read before it), newest
        # last: a send at or past that end was produced after every reply below those ends
        self._observed: dict[TP, deque[tuple[int, list]]] = {}
        self._held_origins: dict[int, dict[str, int]] = {}  # input offsets of sends seen, not yet durable
        self.topics = Topics(settings.provider_topic, settings.suppressed_topic, settings.deadletter_topic,
                             settings.consent_topic, settings.review_topic)
        self.on_batch = on_batch
        self._tallies: dict[int, Tally] = {}  # this batch's figures per routed partition
        self._figures: dict[int, dict] = {}  # the figures last written per routed partition (decoded)
        self._route_outcomes: dict[TP, list] = {}  # this batch's routing-stage outcomes per input partition
        # deciding in place (exactly-once): routed partitions whose send partition of the same number is
        # in the same task here (set by the loop); per such partition, the send records read behind a
        # held send decided in place (each with the stamp of its batch), processed in order once it is
        # decided, and how many sends decided in place are held
        self.in_place: set[int] = set()
        self.outbound_topic = settings.outbound_topic
        self._pending: dict[int, deque[tuple[InRecord, Stamp | None]]] = {}
        self._held_in_place: dict[int, int] = {}
        # per such partition: the routed partition's end offset read when it opened, after the send
        # partition's committed offset: every routed copy of a send read before (routed by an
        # earlier owner) is below it, and nothing is decided in place before it is processed
        # (a send decided in place first would make an earlier one, routed, look like a replay)
        self._in_place_from: dict[int, int] = {}
        self._encoded_for: Stamp | None = None

    # ------------------------------------------------------------ partitions

    def open_partition(self, state: PartitionState) -> None:
        self.states[state.partition] = state
        self.held[state.partition] = deque()
        self._deferred[state.partition] = 0
        self._figures.pop(state.partition, None)

    def drop(self, tps: set[TP]) -> None:
        """Forget partitions (revoked, or rewound): overlays, held sends, positions. The loop reads a
        send partition decided in place again from its committed offset when its routed partition opens."""
        for tp in tps:
            self.positions.pop(tp, None)
            self._route_outcomes.pop(tp, None)
            if tp.topic == self.outbound_topic:
                self._pending.pop(tp.partition, None)
            if tp.topic == self.routed_topic:
                self._pending.pop(tp.partition, None)
                self._held_in_place.pop(tp.partition, None)
                self._in_place_from.pop(tp.partition, None)
                if tp.partition in self.in_place:  # its sends are read again from the committed offset
                    self.positions.pop(TP(self.outbound_topic, tp.partition), None)
                self._tallies.pop(tp.partition, None)
                self._figures.pop(tp.partition, None)
                state = self.states.pop(tp.partition, None)
                if state is not None:
                    state.discard()
                self.held.pop(tp.partition, None)
                self._deferred.pop(tp.partition, None)
                self._open_stamp.pop(tp.partition, None)
                self._held_origins.pop(tp.partition, None)
                self.gate.forget_partition(tp.partition)

    def is_open(self, partition: int) -> bool:
        return partition in self.states

    def open_in_place(self, partition: int, routed_end: int) -> None:
        """Routed partition ``partition`` is open and decides its send partition's sends in place
        once it is processed up to ``routed_end`` (read after the send partition's committed offset)."""
        self._in_place_from[partition] = routed_end

    def _in_place_open(self, partition: int) -> bool:
        position = self.positions.get(TP(self.routed_topic, partition))
        start = self._in_place_from.get(partition)
        return start is not None and position is not None and position >= start

    def task_of(self, tp: TP) -> TP:
        """The task whose transaction holds ``tp``'s outputs and offset: a send partition decided in
        place is in its routed partition's task (its decisions change that partition's state)."""
        if tp.topic == self.outbound_topic and tp.partition in self.in_place:
            return TP(self.routed_topic, tp.partition)
        return tp

    # ------------------------------------------------------------ records

    def process(self, records: list[InRecord], stamp: Stamp | None = None) -> dict[TP, list[Output]]:
        """The outputs of ``records``, per input partition (a task: under exactly-once,
        its outputs, changelog and offset are committed in one transaction). ``stamp``: the
        end offsets of the reply partitions read after ``records`` were fetched (needed when
        they hold sends: :mod:`app.engine.reply_gate`)."""
        started = time.perf_counter()
        self._stamp = stamp
        self._stamp_encoded = None
        if stamp is not None:
            self.gate.note_stamp(stamp)
        by_task: dict[TP, list[Output]] = {}
        routed_topic = self.routed_topic
        tp: TP | None = None
        out: list[Output] = []
        here = False
        for record in records:
            if tp is None or record.partition != tp.partition or record.topic != tp.topic:
                tp = TP(record.topic, record.partition)
                out = by_task.setdefault(tp, [])
                here = record.topic == self.outbound_topic and record.partition in self.in_place
            if record.topic == routed_topic:
                self._apply_routed(record, out)
            elif here:
                self._take_in_place(record, tp, by_task, stamp)
            else:
                self._route(record, out, tp, stamp)
            self.positions[tp] = record.offset + 1
        if self._route_outcomes:
            self._send_route_outcomes(by_task)
        now_ms = self.clock_ms()
        first = records[0].timestamp if records else None
        self._count(by_task, now_ms, time.perf_counter() - started,
                    now_ms - first if isinstance(first, int) and first >= 0 else None)
        return by_task

    def observe(self, send_ends: dict[TP, int], reply_ends: Stamp) -> None:
        """``send_ends`` (end offsets of send partitions) were read after ``reply_ends``."""
        inbound = self.settings.inbound_topic
        count = 1 + max((tp.partition for tp in reply_ends if tp.topic == inbound), default=-1)
        offsets = [0] * count
        for tp, end in reply_ends.items():
            if tp.topic == inbound:
                offsets[tp.partition] = end
        before = [inbound, offsets]
        for tp, end in send_ends.items():
            seen = self._observed.get(tp)
            if seen is None:
                seen = self._observed[tp] = deque(maxlen=OBSERVATIONS_KEPT)
            if not seen or seen[-1][0] != end or seen[-1][1] != before:
                seen.append((end, before))

    def _replies_before(self, tp: TP, offset: int) -> list | None:
        seen = self._observed.get(tp)
        if seen:
            for end, before in reversed(seen):
                if end <= offset:
                    return before
        return None

    def _route(self, record: InRecord, out: list[Output], tp: TP, stamp: Stamp | None,
               here: int | None = None) -> RoutedSend | None:
        """Route ``record`` (its output into ``out``); ``here``: the routed partition of its task,
        whose sends are returned, to be decided in place, instead (:meth:`_take_in_place`)."""
        origin = Origin(record.topic, record.partition, record.offset, record.timestamp)
        try:
            before = by = None
            if tp.topic == self.outbound_topic:
                before = self._replies_before(tp, record.offset)
                if stamp is not None:
                    if self._stamp_encoded is None or self._encoded_for is not stamp:
                        self._stamp_encoded, self._encoded_for = encode_stamp(stamp), stamp
                    by = self._stamp_encoded
            output = self.router.route(origin, record.key, record.value, before, by, here)
        except Exception as exc:  # a bug must not drop the record
            output = self._internal_error(record, exc)
        if output is None:
            self.stats.count("receipts_ignored")
            return None
        if type(output) is dict:
            return output  # type: ignore[return-value]
        out.append(output)  # type: ignore[arg-type]
        if output.topic != self.routed_topic and (outcome := route_outcome(output, self.topics)) is not None:  # type: ignore[union-attr]
            self._route_outcomes.setdefault(tp, []).append([record.offset, *outcome])  # type: ignore[arg-type]
        return None

    def _take_in_place(self, record: InRecord, tp: TP, by_task: dict[TP, list[Output]],
                       stamp: Stamp | None) -> None:
        """A record of a send partition decided in place: behind a held send decided in place it
        waits (in order: its partition's offset is committed only up to the first that waits);
        else it is routed, and a send on its number's partition is decided here, as a routed send
        read at the routed partition's current position would be (held until its replies are
        applied, in the same queue)."""
        partition = record.partition
        pending = self._pending.get(partition)
        if pending is not None:
            pending.append((record, stamp))
            return
        if not self._in_place_open(partition):
            self._pending[partition] = deque([(record, stamp)])
            return
        routed = self._route(record, by_task.setdefault(tp, []), tp, stamp, partition)
        if routed is None:
            return
        state = self.states[partition]
        routed_tp = TP(self.routed_topic, partition)
        out = by_task.setdefault(routed_tp, [])
        try:
            if self._replayed(partition, state, routed):
                self.stats.count("replays_skipped")
                return
            held = self.held[partition]
            position = self.positions.get(routed_tp)
            if held or position is None or not self._covered(partition, position, stamp):
                held.append(Held(position, routed, stamp, self.clock_ms(), record.offset))
                self._held_in_place[partition] = self._held_in_place.get(partition, 0) + 1
                self._pending[partition] = deque()
                return
            out.extend(self.decider.send_or_suppress(routed, state))
            self._mark_decided(state, routed)
            self.stats.count("decided_in_place")
        except Exception as exc:  # a bug must not drop the record
            out.append(self._internal_error(record, exc))

    def _send_route_outcomes(self, by_task: dict[TP, list[Output]]) -> None:
        """One tally record per input partition and batch, to a routed partition fixed by the
        input partition's name (its entries carry their input offsets: a replay repeats them)."""
        for tp, outcomes in self._route_outcomes.items():
            source = f"{tp.topic}:{tp.partition}"
            partition = zlib.crc32(source.encode()) % self.settings.partitions
            for i in range(0, len(outcomes), MAX_TALLY_ENTRIES):
                record: TallyRecord = {"kind": Kind.TALLY, "source": source,
                                       "outcomes": outcomes[i:i + MAX_TALLY_ENTRIES]}
                by_task.setdefault(tp, []).append(Output(self.routed_topic, dumps(record), key=TALLY_RECORD_KEY,
                                                         partition=partition))
        self._route_outcomes = {}

    def _count(self, by_task: dict[TP, list[Output]], now_ms: int, seconds: float | None,
               age_ms: int | None) -> None:
        """The batch's figures, from its outputs, into each routed partition's state."""
        routed_topic, tallies = self.routed_topic, self._tallies
        for tp, outputs in by_task.items():
            if outputs and tp.topic == routed_topic:
                tally = tallies.get(tp.partition)
                if tally is None:
                    tally = tallies[tp.partition] = Tally()
                tally.count_outputs(outputs, self.topics, now_ms)
        if tallies:
            for partition, tally in tallies.items():
                state = self.states.get(partition)
                if state is not None and tally:
                    figures.add(state, tally, now_ms, self._figures.setdefault(partition, {}))
            self._tallies = {}
        if self.on_batch is not None and (tallies or seconds is not None):
            self.on_batch(list(tallies.values()), seconds, age_ms)

    def _apply_routed(self, record: InRecord, out: list[Output]) -> None:
        """Count a tally record, skip a replay, hold a send until its replies are applied, or
        decide it; any other kind goes to the decider, or waits among held sends (module
        docstring)."""
        partition = record.partition
        state = self.states[partition]
        try:
            routed = loads(record.value)
            kind = routed.get("kind")
            if kind == Kind.TALLY:
                self._count_route_outcomes(partition, state, routed)
                return
            held = self.held[partition]
            if kind != Kind.SEND and held:
                self._defer(partition, held, Deferred(record.offset, routed, record.value), state, out)
                return
            if self._replayed(partition, state, routed):
                self.stats.count("replays_skipped")
                return
            if kind == Kind.SEND:
                stamp = self._send_stamp(routed)
                if held or not self._covered(partition, record.offset, stamp):
                    held.append(Held(record.offset, routed, stamp, self.clock_ms()))
                    return
                out.extend(self.decider.send_or_suppress(routed, state))
                self._mark_decided(state, routed)
                return
            out.extend(self.decider.process(record.value, state))
        except Exception as exc:  # a bug must not drop the record
            out.append(self._internal_error(record, exc))

    def _send_stamp(self, routed: dict) -> Stamp | None:
        """The stamp the send's router wrote (else, routed before stamps were written, the
        stamp of the batch it was read in: later, so it only holds the send longer)."""
        raw = routed.get("stamp")
        if raw is None:
            return self._stamp
        if raw != self._stamp_raw:
            self._stamp_raw, self._stamp_read = raw, decode_stamp(raw)
            if self._stamp_read is not None:
                self.gate.note_stamp(self._stamp_read)
        return self._stamp_read if self._stamp_read is not None else self._stamp

    def _defer(self, partition: int, held: deque[Held | Deferred], item: Deferred, state: PartitionState,
               out: list[Output]) -> None:
        """Place a record read behind held sends: just before the first whose stamp it lies
        below (the first held send: applied now), else after them all."""
        origin = item.routed.get("origin")
        if origin:
            for i, entry in enumerate(held):
                if type(entry) is Held and entry.stamp is not None and below(entry.stamp, origin):
                    if i == 0:
                        self._apply_deferred(partition, item, state, out)
                    else:
                        held.insert(i, item)
                        self._deferred[partition] = self._deferred.get(partition, 0) + 1
                    return
        held.append(item)
        self._deferred[partition] = self._deferred.get(partition, 0) + 1

    def _apply_deferred(self, partition: int, item: Deferred, state: PartitionState, out: list[Output]) -> None:
        try:
            if self._replayed(partition, state, item.routed):
                self.stats.count("replays_skipped")
                return
            out.extend(self.decider.process(item.value, state))
        except Exception as exc:  # a bug must not drop the record
            record = InRecord(self.routed_topic, partition, item.offset, None, None, item.value)
            out.append(self._internal_error(record, exc))

    def _count_route_outcomes(self, partition: int, state: PartitionState, routed: dict) -> None:
        fresh = figures.fresh_route_outcomes(state, str(routed.get("source")), routed.get("outcomes") or [])
        if fresh:
            tally = self._tallies.get(partition)
            if tally is None:
                tally = self._tallies[partition] = Tally()
            tally.count_route_outcomes(fresh)

    def _replayed(self, partition: int, state: PartitionState, routed: dict) -> bool:
        """A routed record whose input record was decided already (a router replayed
        its input after a crash or a takeover). Each input partition's records reach a
        routed partition in offset order, so the highest decided input offset per
        input partition, kept in the partition's state, recognizes every replay."""
        origin = routed.get("origin")
        if not origin:
            return False  # not from an input topic (operator opt-outs: deduplicated by id)
        name = f"{origin[0]}:{origin[1]}"
        origins = state.get(ORIGINS_KEY) or {}
        if origins.get(name, -1) >= origin[2]:
            return True
        if routed.get("kind") == Kind.SEND:
            # marked durable only when decided; while held, remembered here only (a crash
            # replays the held send itself, which must not then be taken for a replay)
            pending = self._held_origins.setdefault(partition, {})
            if pending.get(name, -1) >= origin[2]:
                return True
            pending[name] = origin[2]
            return False
        origins[name] = origin[2]
        state[ORIGINS_KEY] = origins
        return False

    @staticmethod
    def _mark_decided(state: PartitionState, routed: dict) -> None:
        origin = routed.get("origin")
        if origin:
            origins = state.get(ORIGINS_KEY) or {}
            origins[f"{origin[0]}:{origin[1]}"] = origin[2]
            state[ORIGINS_KEY] = origins

    def _covered(self, partition: int, position: int | None, stamp: Stamp | None) -> bool:
        if stamp is None or position is None:
            return False  # no reply ends known for it (or no position read yet): fail closed
        if self._open_stamp.get(partition) is stamp:
            return True  # the batch's stamp was covered at a lower position already
        if self.gate.covers(partition, position, stamp):
            self._open_stamp[partition] = stamp
            return True
        return False

    def release(self) -> dict[TP, list[Output]]:
        """Decide the held sends whose replies are applied (app.engine.reply_gate), in order; then
        the send records that waited behind a send decided in place."""
        by_task: dict[TP, list[Output]] = {}
        for partition, held in self.held.items():
            if not held:
                if partition in self._pending and self._in_place_open(partition):
                    self._take_pending(partition, by_task)
                continue
            out = by_task.setdefault(TP(self.routed_topic, partition), [])
            position = self.positions.get(TP(self.routed_topic, partition))
            state = self.states[partition]
            while held:
                first = held[0]
                if type(first) is Deferred:
                    held.popleft()
                    self._deferred[partition] -= 1
                    self._apply_deferred(partition, first, state, out)
                    continue
                if not self._covered(partition, position, first.stamp):
                    break
                held.popleft()
                try:
                    out.extend(self.decider.send_or_suppress(first.routed, state))
                    self._mark_decided(state, first.routed)
                    if first.source is not None:
                        self.stats.count("decided_in_place")
                except Exception as exc:
                    if first.source is None:
                        record = InRecord(self.routed_topic, partition, first.offset or 0, None, None,
                                          dumps(first.routed))
                    else:
                        record = InRecord(self.outbound_topic, partition, first.source, None, None,
                                          dumps(first.routed.get("message")))
                    out.append(self._internal_error(record, exc))
                if first.source is not None:
                    self._held_in_place[partition] -= 1
            if partition in self._pending and not self._held_in_place.get(partition) \
                    and self._in_place_open(partition):
                self._take_pending(partition, by_task)
        if self._route_outcomes:
            self._send_route_outcomes(by_task)
        if by_task:
            self._count(by_task, self.clock_ms(), None, None)
        return by_task

    def _take_pending(self, partition: int, by_task: dict[TP, list[Output]]) -> None:
        """The send records that waited behind sends decided in place, none of them held any more."""
        pending = self._pending.pop(partition)
        tp = TP(self.outbound_topic, partition)
        for record, stamp in pending:
            self._take_in_place(record, tp, by_task, stamp)

    def _internal_error(self, record: InRecord, exc: BaseException) -> Output:
        log.exception("internal error on %s[%d]@%d; dead-lettering", record.topic, record.partition, record.offset)
        self.stats.count("dead_lettered")
        origin = Origin(record.topic, record.partition, record.offset, record.timestamp)
        return dead_letter(self.settings.deadletter_topic, origin,
                           f"internal error while processing: {type(exc).__name__}: {exc}", record.value, record.key)

    # ------------------------------------------------------------ checkpoint

    def commit_offsets(self) -> dict[TP, int]:
        """Offsets safe to commit: never past a routed partition's oldest held send, nor past a
        send partition's oldest send held to be decided in place (what waits behind it is later)."""
        offsets = dict(self.positions)
        for partition, held in self.held.items():
            if held:
                first = held[0].offset
                if first is None:
                    offsets.pop(TP(self.routed_topic, partition), None)
                else:
                    offsets[TP(self.routed_topic, partition)] = first
        for partition in self.in_place:
            if self._held_in_place.get(partition):  # what waits behind it is later
                offsets[TP(self.outbound_topic, partition)] = next(
                    h.source for h in self.held[partition] if type(h) is Held and h.source is not None)
            elif pending := self._pending.get(partition):
                offsets[TP(self.outbound_topic, partition)] = pending[0][0].offset
        return offsets

    def held_count(self) -> int:
        """Sends held (records deferred among them not counted)."""
        return sum(len(h) for h in self.held.values()) - sum(self._deferred.values())

    def in_memory_count(self) -> int:
        """Sends held, and send records waiting behind sends held in place (what the bound counts)."""
        return self.held_count() + sum(len(p) for p in self._pending.values())

    def oldest_held(self) -> Held | None:
        oldest = [h[0] for h in self.held.values() if h]  # the first entry is always a send
        return min(oldest, key=lambda h: h.since_ms) if oldest else None
