"""The shape of the ``GET /stats`` answer, declared once: :func:`app.reports.stats_answer.render`
returns :class:`StatsFigures`, ``app/runtime/web/stats_api.py`` adds the scope, the time and
the partitions covered (:class:`StatsAnswer`), and the dashboard reads it
(``app/runtime/web/dashboard_data.py``). Documented in docs/http/stats.md.

Every key is always present (a figure nothing was counted for is 0, ``{}``, ``[]`` or, where
declared, ``None``); there are no other keys. Units: a field ending in ``_s`` is in seconds;
every other time is an ISO 8601 text in UTC with its offset (``2026-11-29T14:19:00+00:00``),
except ``PreventedSendsDay.day`` (``2026-11-29``). Counts are ints.

The declarations cost nothing where the answer is made (TypedDicts are plain dicts); an
answer read from elsewhere (JSON over HTTP) is checked against them with :func:`check_answer`.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import ConfigDict, TypeAdapter, with_config
from typing_extensions import TypedDict  # (pydantic needs typing_extensions' TypedDict before Python 3.12)

# what a check demands at every level: every declared key, nothing else, no coercion (a
# bool is not an int, "3" is not 3; an int is accepted where a float is declared). Set on the
# two declarations that are checked (StatsFigures, StatsAnswer): pydantic checks the ones
# nested in them with it (tests/unit/app/reports/test_stats_contract.py refuses a change at
# every level).
EXACT = ConfigDict(extra="forbid", strict=True)


class Totals(TypedDict):
    """Counts since ``since``; ``suppressed`` and ``dead_lettered`` are the sums of their
    ``_by_reason`` counts, ``opt_outs`` and ``opt_ins`` those of their ``_by_source`` ones."""

    forwarded: int
    suppressed: int
    suppressed_by_reason: dict[str, int]
    dead_lettered: int
    dead_lettered_by_reason: dict[str, int]
    opt_outs: int
    opt_outs_by_source: dict[str, int]
    opt_outs_by_rule: dict[str, int]
    opt_ins: int
    opt_ins_by_source: dict[str, int]
    opt_ins_by_rule: dict[str, int]
    confirmations: dict[str, int]  # by purpose: opt-out, opt-in, help
    review_queued: int


class ConsentEventCount(TypedDict):
    """``sms.consent`` records of one kind."""

    intent: str
    source: str
    rule: str
    verdict: str
    count: int


class TimeToHonour(TypedDict):
    """Applied opt-outs: their reply's event time to the state change, in seconds (None
    while ``count`` is 0)."""

    count: int
    p50_s: float | None
    p99_s: float | None
    max_s: float | None


class ConfirmationDelay(TypedDict):
    """Opt-out confirmations: their reply's event time to the confirmation's production,
    against ``limit_s`` (the FCC's 5 minutes); seconds (None while ``count`` is 0)."""

    limit_s: int
    count: int
    within_limit: int
    over_limit: int
    p99_s: float | None
    max_s: float | None


class OldestReview(TypedDict):
    """The pending review item with the nearest deadline."""

    event_time: str | None  # ISO, UTC: when the reply was written (None if the item has none)
    deadline: str  # ISO, UTC
    age_s: float | None  # seconds since event_time (None without it)
    time_left_s: float  # seconds to the deadline (negative: past it)
    overdue: bool


class ReviewQueue(TypedDict):
    pending: int
    oldest: OldestReview | None  # None when nothing is pending


class PreventedSendsDay(TypedDict):
    """Sends suppressed because the number had opted out, on one day (UTC, processing time)."""

    day: str  # YYYY-MM-DD
    total: int
    by_account: dict[str, int]  # at most 100 accounts (digits masked), the rest as "(other)"


class SeriesPoint(TypedDict):
    """The outcomes of one minute or hour (processing time)."""

    t: str  # ISO, UTC: the start of the minute or hour
    forwarded: int
    suppressed: int
    suppressed_by_reason: dict[str, int]
    dead_lettered: int
    opt_outs: int
    opt_ins: int
    confirmations: int


class Series(TypedDict):
    """Oldest first; a minute or hour with nothing counted is left out."""

    per_minute: list[SeriesPoint]  # the last 24 hours
    per_hour: list[SeriesPoint]  # the last 7 days


@with_config(EXACT)
class StatsFigures(TypedDict):
    """What :func:`app.reports.stats_answer.render` returns."""

    since: str | None  # ISO, UTC: when the earliest partition started counting (None: none has)
    totals: Totals
    consent_events: list[ConsentEventCount]
    time_to_honour: TimeToHonour
    confirmation_delay: ConfirmationDelay
    review_queue: ReviewQueue
    prevented_sends: list[PreventedSendsDay]  # oldest day first
    series: Series


class PartitionsCovered(TypedDict):
    covered: list[int]  # the table partitions summed (all of them: never a partial answer)
    count: int  # the table's partitions


@with_config(EXACT)
class StatsAnswer(StatsFigures):
    """The ``GET /stats`` answer (``scope=cluster``, the default)."""

    scope: Literal["cluster"]
    as_of: str  # ISO, UTC: when it was rendered
    partitions: PartitionsCovered


@cache
def _adapter(shape: type) -> TypeAdapter:
    return TypeAdapter(shape)  # built on first use (a few ms), kept


def check_figures(value: object) -> StatsFigures:
    """``value`` if it has the shape of :class:`StatsFigures` exactly; else ``ValueError``
    (pydantic's ``ValidationError``, saying where)."""
    return _adapter(StatsFigures).validate_python(value)


def check_answer(value: object) -> StatsAnswer:
    """``value`` if it has the shape of :class:`StatsAnswer` exactly; else ``ValueError``
    (pydantic's ``ValidationError``, saying where)."""
    return _adapter(StatsAnswer).validate_python(value)
