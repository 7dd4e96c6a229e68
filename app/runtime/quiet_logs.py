"""Quiet outages: one warning when the broker becomes unreachable, one when it is back.

While the broker is down, aiokafka logs every failed connection attempt (tens of
thousands of lines a minute), and every part of the worker that talks to Kafka
fails in turn. :class:`BrokerWatch` is the one broker outage: the first failed
probe, or the first connection error from the Kafka client, declares it with a
single warning; while it lasts, every other warning is held back and counted; the
probe that succeeds again ends it with a single warning that says how long it
lasted and how many retries and held-back messages there were.

Outside broker outages, :class:`CollapseRepeats` lets the first warning or error
of each kind (logger and template) through, holds back repeats for ``window_s``
seconds, and then says how many it held back: a flood of crafted records that
each trigger the same warning makes one line a minute, not one per record.

:class:`RoutineClientLines` quiets what the Kafka client says at every start that is no
news: "Discovered coordinator ... for group id ..." (one line per producer: about 65 at a
worker's start) becomes DEBUG, and "Group Coordinator Request failed" while the group's
coordinator is not elected yet (a new broker, a new group) becomes one INFO line; only if
the coordinator stays away for ``grace_s`` are the client's errors shown as they are.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from app.engine.outage import Outage

log = logging.getLogger("app.runtime.broker")

# aiokafka's messages that mean "cannot reach the broker"
CONNECTION_TROUBLE = (
    "Unable connect", "Unable to connect", "Unable to update metadata", "Connect call failed",
    "KafkaConnectionError", "NodeNotReadyError", "Connection at",
)
HELD_LOGGERS = ("aiokafka", "app", "faust", "mode")
_ONE_OFF = (Outage.FAILING, Outage.RECOVERED)


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class BrokerWatch(Outage):
    """The broker outage shared by the broker probe (``failed`` / ``ok``) and the log filter."""

    def __init__(self, clock_ms: Callable[[], int] = _wall_ms) -> None:
        super().__init__(log, "broker unreachable")
        self.clock_ms = clock_ms
        self.held = 0
        self._silenced: set[str] = set()  # outages whose start was held: hold their recovery too

    @property
    def down(self) -> bool:
        return self.failing_since_ms is not None

    def failed(self, now_ms: int, exc: BaseException | str) -> None:
        self.last_error = exc if isinstance(exc, str) else (f"{type(exc).__name__}: {exc}".rstrip(": ")
                                                             if str(exc) else type(exc).__name__)
        if self.failing_since_ms is None:
            self.failing_since_ms = now_ms
            self.retries = self.held = 0
            self.log.warning("broker unreachable (%s); retrying quietly: one line when it is back", self.last_error)
        else:
            self.retries += 1

    def ok(self, now_ms: int) -> None:
        if self.failing_since_ms is not None:
            self.log.warning("broker reachable again after %.1f s: %d retries, %d log messages held back",
                             (now_ms - self.failing_since_ms) / 1000, self.retries, self.held)
            self.failing_since_ms = None
            self.retries = self.held = 0

    def hold(self, record: logging.LogRecord) -> bool:
        """Whether ``record`` is held back (counted, not shown)."""
        if record.levelno < logging.WARNING or record.name == log.name:
            return False
        if record.msg == Outage.RECOVERED and record.args and record.args[0] in self._silenced:
            self._silenced.discard(record.args[0])
            return True
        if not self.down:
            if record.name.startswith("aiokafka") and _connection_trouble(record):
                self.failed(self.clock_ms(), f"Kafka client: {_first_line(record)}")
                self.held += 1
                return True
            return False
        if not record.name.startswith(HELD_LOGGERS):
            return False
        if record.msg == Outage.FAILING and record.args:
            self._silenced.add(record.args[0])
            if len(self._silenced) > 1000:
                self._silenced.clear()
        self.held += 1
        return True


def _first_line(record: logging.LogRecord) -> str:
    try:
        text = record.getMessage()
    except Exception:  # a record whose arguments do not fit its template
        text = str(record.msg)
    return text.splitlines()[0][:200] if text else ""


def _connection_trouble(record: logging.LogRecord) -> bool:
    text = _first_line(record)
    return any(marker in text for marker in CONNECTION_TROUBLE)


class CollapseRepeats(logging.Filter):
    def __init__(self, window_s: float = 60.0, watch: BrokerWatch | None = None) -> None:
        super().__init__()
        self.window_s = window_s
        self.watch = watch
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}  # (logger, template) -> (first, held back)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.watch is not None and self.watch.hold(record):
            return False
        if record.levelno < logging.WARNING or record.name == log.name or record.msg in _ONE_OFF:
            return True  # (every outage says when it starts and ends, once)
        key = (record.name, str(record.msg))
        now = time.monotonic()
        first, held = self._seen.get(key, (float("-inf"), 0))
        if now - first >= self.window_s:
            if held:
                record.msg = f"{record.msg} ({held} similar message(s) in the last {self.window_s:.0f} s not shown)"
            self._seen[key] = (now, 0)
            if len(self._seen) > 1000:  # bounded: forget the oldest kinds
                for old in sorted(self._seen, key=lambda k: self._seen[k][0])[:500]:
                    del self._seen[old]
            return True
        self._seen[key] = (first, held + 1)
        return False


# (logger, template) of aiokafka's INFO lines that are no news: made DEBUG
ROUTINE = frozenset({
    ("aiokafka.producer.sender", "Discovered coordinator %s for group id %s"),
    ("aiokafka.producer.sender", "Discovered coordinator %s for transactional id %s"),
    ("aiokafka.consumer.group_coordinator", "Discovered coordinator %s for group %s"),
})
COORDINATOR_LOGGER = "aiokafka.consumer.group_coordinator"
COORDINATOR_FAILED = "Group Coordinator Request failed: %s"
# GroupLoadInProgress, GroupCoordinatorNotAvailable, NotCoordinatorForGroup: a coordinator being elected
COORDINATOR_PENDING = frozenset({14, 15, 16})
WAITING = "waiting for the group coordinator (%s): usual while a new broker or group elects it"


class RoutineClientLines(logging.Filter):
    """On aiokafka's loggers (a logger's own filter: it runs before any handler's)."""

    def __init__(self, grace_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.grace_s = grace_s
        self.clock = clock
        self.waiting_since: float | None = None  # the coordinator was not available, and not found since

    def filter(self, record: logging.LogRecord) -> bool:
        template = str(record.msg)
        if (record.name, template) in ROUTINE:
            if record.name == COORDINATOR_LOGGER:
                self.waiting_since = None  # found: a later wait is news again
            return _demote(record, logging.DEBUG)
        if record.name != COORDINATOR_LOGGER or template != COORDINATOR_FAILED:
            return True
        error = record.args[0] if isinstance(record.args, tuple) and record.args else None
        if getattr(error, "errno", None) not in COORDINATOR_PENDING:
            return True
        now = self.clock()
        if self.waiting_since is None:
            self.waiting_since = now
            record.msg, record.args = WAITING, (type(error).__name__,)
            return _demote(record, logging.INFO)
        if now - self.waiting_since < self.grace_s:
            return _demote(record, logging.DEBUG)
        return True  # it lasts: the client's own error (collapsed by CollapseRepeats)


def _demote(record: logging.LogRecord, level: int) -> bool:
    """``record`` at ``level``; whether its logger still shows that level."""
    if record.levelno > level:
        record.levelno, record.levelname = level, logging.getLevelName(level)
    return logging.getLogger(record.name).isEnabledFor(record.levelno)


BROKER = BrokerWatch()
_COLLAPSE = CollapseRepeats(watch=BROKER)
CLIENT_LINES = RoutineClientLines()


def install(root: logging.Logger | None = None) -> None:
    """On every handler of the root logger (every logger's records propagate there), and on
    the Kafka client's loggers whose routine lines are quieted."""
    for handler in (root or logging.getLogger()).handlers:
        if _COLLAPSE not in handler.filters:
            handler.addFilter(_COLLAPSE)
    for name in sorted({name for name, _ in ROUTINE}):
        logger = logging.getLogger(name)
        if CLIENT_LINES not in logger.filters:
            logger.addFilter(CLIENT_LINES)
