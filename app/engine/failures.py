"""The engine's failures, each named by its cure (as Kafka Streams' ``TaskMigratedException``
and ``TaskCorruptedException``). The loop (:mod:`app.engine.loop`) picks the cure by the
class; anything else raised inside a step is a bug: it is logged with its traceback and
the step is rewound like an unacknowledged output (nothing after the failed step happened).

=========================  ============================================================
failure                    cure
=========================  ============================================================
:class:`NotAcknowledged`   rewind: forget what is not durable, read every partition
                           again from its committed offset, back off
:class:`BrokerUnavailable` the same, once a broker answers (a metadata or offsets request
                           went unanswered)
:class:`RecordRejected`    the same; the broker refuses this record whatever we do (a
                           bug upstream of the producer: records are bounded before)
:class:`Fenced`            a newer producer owns the task: ask the group for the
                           partitions again (:meth:`~app.engine.ports.SourcePort.rejoin`),
                           never retry with the fenced producer
:class:`SeekFailed`        nothing is processed until a seek to the committed offsets works
:class:`StepInterrupted`   a step stopped half-way: nothing is committed until the rewind
:class:`RecoveryStalled`   the partition stays closed (its sends held); its changelog is
                           read again after a back-off
=========================  ============================================================
"""

from __future__ import annotations


class EngineFailure(Exception):
    """A step of the loop could not complete; the subclass names the cure."""


class NotAcknowledged(EngineFailure):
    """An output (or a commit) was not acknowledged by the broker."""


class BrokerUnavailable(NotAcknowledged):
    """No broker answered a request the step needs (metadata, offsets)."""


class RecordRejected(NotAcknowledged):
    """The broker can never take this record (it does not fit in a batch)."""


class Fenced(NotAcknowledged):
    """A newer producer of the task exists (another worker took the partition over, or the
    broker ended the transaction after its timeout): this worker may not own the task any
    more. The cure is a new assignment (:meth:`app.engine.ports.SourcePort.rejoin`), whose
    tasks are opened again, never a retry with the fenced producer."""


class SeekFailed(EngineFailure):
    """Partitions could not be set back to their committed offsets."""


class StepInterrupted(EngineFailure):
    """A step stopped half-way (cancelled): nothing more is committed until the rewind."""


class RecoveryStalled(EngineFailure):
    """A changelog read got nothing short of the end offset observed at assignment."""


def is_fenced(exc: BaseException | None) -> bool:
    """``exc`` or one of its causes is :class:`Fenced`."""
    while exc is not None:
        if isinstance(exc, Fenced):
            return True
        exc = exc.__cause__
    return False
