"""The shapes of the HTTP API's answers and parameters, as pydantic models: what
``GET /openapi.json`` (:mod:`app.runtime.web.openapi`) is generated from.

The request bodies are the topic contracts' (``schemas/operator.py``: ``OperatorOptOut``,
``ReviewDecision``) and ``GET /stats``' answer is its contract
(:class:`app.reports.stats_contract.StatsAnswer`); everything else a handler answers as a
dict built in place is declared here. A key that is always in the answer is a field without
a default (``X | None`` when it may be null); a key that is in some answers only has the
default None. Times are ISO 8601 texts with their offset (``format: date-time``).

Declared once, checked by tests/unit/app/runtime/web/test_openapi.py: the real answers of
the handlers (on the fake host) validate against the document, and so does every JSON answer
shown in docs/http/*.md.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Scope = Literal["account", "global"]
Intent = Literal["opt_out", "opt_in", "help", "review"]
State = Literal["opted_out", "subscribed"]
ConsentSource = Literal["keyword", "phrase", "operator", "provider", "review", "review_deadline"]
ListedSource = Literal["keyword", "phrase", "operator", "provider", "review", "review_deadline", "import"]


class Answer(BaseModel):
    """Every key declared, no other."""

    model_config = ConfigDict(extra="forbid")


class OpenAnswer(BaseModel):
    """The keys declared, and others the worker may add (counters, reports)."""

    model_config = ConfigDict(extra="allow")


# ------------------------------------------------------------ errors


class ErrorAnswer(Answer):
    """Every error: a fixed name and a fixed text (never the request's; no phone number)."""

    model_config = ConfigDict(title="Error")

    error: str = Field(description="A fixed name: invalid_number, invalid_limit, unauthorized, forbidden, "
                       "not_found, method_not_allowed, too_busy, unavailable, internal_error, ...")
    detail: str | list[str] | None = Field(description="What was wrong (a body's errors: one text per field).")


# ------------------------------------------------------------ GET /health, /livez, /readyz


class HealthAnswer(OpenAnswer):
    """``GET /health``: 200 when ready, 503 (``not_ready``) with the problems."""

    status: Literal["ok", "not_ready"]
    ready: bool
    problems: list[str] = Field(description="Why the worker is not ready (fixed texts).")
    worker: str = Field(description="This worker's id.")
    live: bool | None = Field(default=None, description="Once started: False while its tasks are fenced.")
    held_sends: int | None = Field(default=None, description="Once started: sends held until replies are routed.")
    assigned: int | None = Field(default=None, description="Once started: partitions assigned.")
    checkpoints: int | None = Field(default=None, description="Once started: checkpoints made.")


class LivezAnswer(Answer):
    status: Literal["alive", "stuck"]
    reason: str | None = Field(default=None, description="With stuck: why.")


class ReadyzAnswer(Answer):
    status: Literal["ready", "not_ready"]
    pending: str | None = Field(default=None, description="Ready within the grace period: what is going on.")
    reason: str | None = Field(default=None, description="With not_ready: why (a fixed text).")


# ------------------------------------------------------------ GET /optouts/{number}, its history


class LookupAnswer(Answer):
    """``GET /optouts/{number}``: the state a send to the number would meet."""

    number: str = Field(description="E.164 (the number asked for).")
    account_id: str
    opted_out: bool
    changed_at: AwareDatetime | None = Field(description="Event time of the change that set the state (null: "
                                             "nothing is known).")
    scope: Scope
    source: ConsentSource | None = Field(default=None, description="Once something is known: how.")
    rule: str | None = Field(default=None, description="Once something is known: the rule that decided it.")
    matched: str | None = Field(default=None, description="Once something is known: what matched.")
    message_id: str | None = Field(default=None, description="Once something is known: the event that set it.")


class ShownState(Answer):
    """A number's consent state as a timeline shows it."""

    opted_out: bool
    changed_at: AwareDatetime | None
    source: ConsentSource | None
    rule: str | None
    matched: str | None
    message_id: str | None


class ConsentCoordinates(Answer):
    """Where a consent event's record is in ``sms.consent``."""

    partition: int
    offset: int


class TimelineEvent(Answer):
    """One consent event (an ``sms.consent`` record, as kept in the number's timeline)."""

    event_time: AwareDatetime | None
    processed_at: AwareDatetime | None
    intent: Intent | None
    source: ConsentSource | None
    rule: str | None
    matched: str | None
    body: str | None = Field(description="The reply's text (its first 480 characters).")
    to: str | None = Field(description="The number the person wrote to.")
    verdict: Literal["applied", "unchanged", "stale", "logged", "dismissed"] | None
    previous_state: State | None
    new_state: State | None
    message_id: str | None
    confirmation_message_id: str | None
    requested_by: str | None
    reason: str | None
    provider: str | None
    code: str | None = Field(description="A provider's error code.")
    review_id: str | None
    decided_by: str | None
    note: str | None
    keywords_id: str | None
    consent: ConsentCoordinates | None
    account_id: str | None = Field(default=None, description="In global scope: the account of the event.")
    review_deadline: AwareDatetime | None = Field(default=None, description="A review item's deadline.")
    body_chars: int | None = Field(default=None, description="The reply's length, when its text was cut.")
    message_id_clash: bool | None = Field(default=None, description="Another event had this message id.")


class TimelineAnswer(Answer):
    """``GET /optouts/{number}/history``: the state, every consent event (oldest first)."""

    number: str = Field(description="E.164.")
    account_id: str
    scope: Scope
    as_of: AwareDatetime | None
    state: ShownState | None
    as_of_exact: bool | None = Field(default=None, description="With as_of only: false when events left out of "
                                     "a bounded timeline are dated before as_of.")
    suppressed_since_opt_out: int
    events: list[TimelineEvent]
    events_left_out: int
    events_left_out_between: list[AwareDatetime | None] | None = Field(
        description="The event times of the first and last events left out (null: none was).")


# ------------------------------------------------------------ POST /optouts, GET /optouts


class OptOutAccepted(Answer):
    """``POST /optouts`` (202): the operator's opt-out was taken by the broker."""

    status: Literal["accepted"]
    number: str = Field(description="E.164.")
    account_id: str
    event_id: str = Field(description="The message id of the opt-out's record.")


class ListedOptOut(Answer):
    number: str = Field(description="E.164, masked to its last 4 digits unless mask=0 (admin).")
    account_id: str
    opted_out_at: AwareDatetime | None = Field(description="Event time of the opt-out.")
    source: ListedSource
    rule: str | None
    matched: str | None
    message_id: str | None


class ListingAnswer(Answer):
    """``GET /optouts``: a page of opted-out numbers."""

    items: list[ListedOptOut]
    next_cursor: str | None = Field(description="Pass it as cursor for the next page; null when complete.")
    masked: bool
    count: int


# ------------------------------------------------------------ GET /reviews, POST /reviews/{review_id}


class ListedReview(Answer):
    review_id: str
    account_id: str | None
    number: str | None = Field(description="E.164.")
    message_id: str | None
    body: str | None
    matched: str | None
    rule: str | None
    event_time: AwareDatetime | None
    deadline: AwareDatetime | None
    queued_at: AwareDatetime | None
    to: str | None
    state: Literal["pending", "decided"] | None


class ReviewsAnswer(Answer):
    """``GET /reviews``: pending review items, nearest deadline first."""

    items: list[ListedReview]
    next_cursor: str | None = Field(description="Pass it as cursor for the next page; null when complete.")


class ReviewAccepted(Answer):
    """``POST /reviews/{review_id}`` (202): the decision was taken by the broker."""

    status: Literal["accepted"]
    review_id: str
    decision: Literal["opt_out", "dismiss"]


class ReviewAlreadyDecided(Answer):
    """``POST /reviews/{review_id}`` (200): the item was decided before (nothing done)."""

    status: Literal["already_decided"]
    review_id: str
    decision: str | None
    decided_by: str | None
    decided_at: AwareDatetime | None


# ------------------------------------------------------------ GET /stats?scope=worker


class WorkerStats(OpenAnswer):
    """``GET /stats?scope=worker``: this worker's own counters since it started (names of
    :mod:`app.stream.counters`)."""

    scope: Literal["this worker, since it started"]


# ------------------------------------------------------------ the dashboard's data


class TotalTile(Answer):
    key: str
    label: str
    value: int


class ComplianceRow(Answer):
    label: str
    value: str
    bad: bool | None = Field(default=None, description="Shown in red.")


class SuppressedRow(Answer):
    reason: str
    count: int
    share: float = Field(description="Of the largest count (0 to 1).")


class StatsPanel(Answer):
    available: bool
    error: str | None
    scope: str | None
    totals: list[TotalTile]
    compliance: list[ComplianceRow]
    suppressed: list[SuppressedRow]


class RateSeries(Answer):
    t: list[int] = Field(description="Unix seconds: the start of each minute or hour.")
    opt_out: list[int]
    opt_in: list[int]


class SeriesPanel(Answer):
    available: bool
    source: str | None = Field(description="GET /stats, or the consent log's tail.")
    minute: RateSeries | None = Field(default=None, description="The last hour, per minute.")
    hour: RateSeries | None = Field(default=None, description="The last 24 hours, per hour.")


class Outcome(Answer):
    """A row of the recent outcomes panel: a consent event, a suppressed send or a new review
    item. Every key is always there (null where it does not apply to the kind)."""

    kind: Literal["consent", "suppressed", "review"]
    at: AwareDatetime | None = Field(description="When it happened: processed, suppressed, queued.")
    number: str = Field(description="Masked to its last 4 digits ('' when a send had none).")
    account_id: str | None
    intent: Intent | None = Field(description="consent: what the event asked for.")
    source: ConsentSource | None = Field(description="consent: how.")
    rule: str | None = Field(description="consent and review: the rule.")
    verdict: Literal["applied", "unchanged", "stale", "logged", "dismissed"] | None = Field(description="consent.")
    previous_state: State | None
    new_state: State | None
    matched: str | None = Field(description="consent and review: what matched (masked).")
    reason: Literal["opted_out", "no_phone", "invalid_number"] | None = Field(description="suppressed: why.")
    detail: str | None = Field(description="suppressed: why the number is not usable (masked).")
    deadline: AwareDatetime | None = Field(description="review: decide by then.")
    processed_at: AwareDatetime | None = Field(description="consent.")
    event_time: AwareDatetime | None = Field(description="consent and review: when the reply was written; "
                                             "suppressed (opted_out): when the number opted out.")
    timeline: str | None = Field(description="The number's timeline page: /numbers/ref/<sealed reference> "
                                 "(no number in it; 15 minutes, for the token that asked). Null without a number.")


class RecentPanel(Answer):
    available: bool
    error: str | None
    topics: list[str] | None = Field(default=None, description="The logs read.")
    limit: int | None = Field(default=None, description="At most this many rows.")
    events: list[Outcome] = Field(description="Newest first.")


class ReviewRow(Answer):
    review_id: str | None
    number: str = Field(description="Masked.")
    account_id: str | None
    body: str = Field(description="Its first 80 characters, masked.")
    body_cut: bool
    matched: str | None
    rule: str | None
    queued_at: AwareDatetime | None
    deadline: AwareDatetime | None
    overdue: bool


class ReviewsPanel(Answer):
    available: bool
    error: str | None
    items: list[ReviewRow]
    more: bool
    missing_partitions: list[int]


class WorkerReport(Answer):
    """A worker's part of the pipeline health (``GET /dashboard/worker``); no number."""

    worker: str | None
    url: str | None
    ready: bool
    problems: list[str]
    partitions: list[int]
    lag: dict[str, int]
    lag_total: int | None
    standbys: list[int] | None = Field(default=None)
    held_sends: int | None = Field(default=None)
    dead_lettered: int | None = Field(default=None)


class WorkersPanel(Answer):
    items: list[WorkerReport]
    unowned: list[int]
    lag_total: int
    dead_lettered: int


class DashboardData(Answer):
    """``GET /dashboard/data``: what the dashboard's panels show."""

    generated_at: AwareDatetime
    worker: str
    stats: StatsPanel
    series: SeriesPanel
    recent: RecentPanel
    reviews: ReviewsPanel
    workers: WorkersPanel
    numbers_shown: int = Field(description="Numbers shown (masked): what the audit record counts.")


class RevokedAnswer(Answer):
    """``POST /signout`` from another worker (its proof): the session is revoked here too."""

    revoked: Literal[True]


# ------------------------------------------------------------ request parameters
# (each field a query or path parameter; the handlers read them from the request)


class Parameters(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NumberPath(Parameters):
    number: str = Field(description="Any format a send's recipient is read in: E.164 (its + escaped as %2B or "
                        "not), or a national format with the default region (OPTOUT_DEFAULT_REGION).")


class ReviewPath(Parameters):
    review_id: str = Field(description="The review_id of a GET /reviews item.")


class StaticPath(Parameters):
    name: str = Field(description="dashboard.js, dashboard.css, vendor/uPlot.iife.min.js, vendor/uPlot.min.css.")


class RefPath(Parameters):
    ref: str = Field(description="A sealed reference of the dashboard's recent outcomes panel.")


class AccountQuery(Parameters):
    account: str | None = Field(default=None, description="The account id (default: default); over 128 "
                                "characters it is read as its SHA-256, as replies and sends are keyed.")


class HistoryQuery(AccountQuery):
    as_of: AwareDatetime | None = Field(default=None, description="The state as of then (event time), with the "
                                        "events dated up to then: ISO 8601 with a time zone.")


class ListingQuery(AccountQuery):
    source: ListedSource | None = Field(default=None, description="How the opt-out was made.")
    since: AwareDatetime | None = Field(default=None, description="Opted out at or after.")
    until: AwareDatetime | None = Field(default=None, description="Opted out before.")
    mask: Literal["0", "1"] | None = Field(default=None, description="1 (default): masked numbers; 0: whole "
                                           "numbers, admin token only.")
    limit: int | None = Field(default=None, ge=1, le=1000, description="Entries per page, 1 to 1,000 (default 100).")
    cursor: str | None = Field(default=None, description="The next_cursor of the previous page.")


class ExportQuery(ListingQuery):
    limit: int | None = Field(default=None, ge=1, le=100_000_000, description="At most this many rows "
                              "(default: all).")
    cursor: str | None = Field(default=None, description="Start where a listing page ended (its next_cursor).")


class ReviewsQuery(AccountQuery):
    state: Literal["pending"] | None = Field(default=None, description="Only pending items are listed.")
    limit: int | None = Field(default=None, ge=1, le=1000, description="Items per page (default 100).")
    cursor: str | None = Field(default=None, description="The next_cursor of the previous page.")


class StatsQuery(Parameters):
    scope: Literal["cluster", "worker"] | None = Field(default=None, description="cluster (default): every "
                                                       "partition; worker: this worker's counters.")


class EvidenceQuery(AccountQuery):
    number: str | None = Field(default=None, description="A number's packet (viewer); or since and until.")
    since: AwareDatetime | None = Field(default=None, description="A period's packet (admin): events at or "
                                        "after.")
    until: AwareDatetime | None = Field(default=None, description="A period's packet: events before (at most "
                                        "366 days after since).")


class SearchQuery(Parameters):
    number: str = Field(description="The number searched for, any format.")
    account: str | None = Field(default=None, description="The account id (default: default).")


class TimelinePageQuery(AccountQuery):
    as_of: AwareDatetime | None = Field(default=None, description="As GET /optouts/{number}/history.")


class SigninForm(Parameters):
    """``POST /signin``'s form (application/x-www-form-urlencoded)."""

    token: str = Field(max_length=1024, description="OPTOUT_VIEWER_TOKEN or OPTOUT_ADMIN_TOKEN.")


JSON = dict[str, Any]
