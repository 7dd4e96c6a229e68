"""``demo``: a short scripted story, played against the running worker.

Each step produces one record, as an upstream service or a provider would, then waits for
its outcome on the output topics (committed records only) and prints both, with the link
to the number's timeline on the dashboard:

1. a person texts STOP: opted out, and told so;
2. a send to that number: suppressed (opted_out);
3. another person texts ALTO (Spanish, locale es): opted out, told so in Spanish;
4. a third texts HELP: answered with the help text;
5. a fourth writes a reply that is not clear ("Will you stop by later?"): queued for review;
6. the first person texts START: opted back in;
7. a send to them, a moment later: cleared for delivery;
8. a provider's receipt with Twilio's error 21610 for a fifth number: opted out.

Every run uses a fresh account (``demo-<run>``) and fresh numbers from the fictional
555-0100..555-0199 range (shown whole: nobody owns them), so runs never meet each other's
state. Exit status 0 when every step had its outcome; 1 when one did not within the timeout
(the step is named) or had another outcome; 2 when the broker or the topics cannot be used.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from aiokafka.admin import AIOKafkaAdminClient

from app.domain.masking import mask
from app.domain.numbers import NumberStatus, parse_number
from app.records import dumps
from app.runtime.cli.kafka_io import check_access, check_topics, produce, start_producer
from app.runtime.cli.outcome_lines import OUTCOMES
from app.runtime.cli.put import Record, receipt_record, reply_record, send_record
from app.runtime.cli.tail import OutputReader, Seen, resolve_topics, wait_for
from app.runtime.kafka_security import kafka_client_options
from app.settings import Settings

STEP_TIMEOUT_S = 60.0
WORKER_WAIT_S = 20.0  # for a worker to join the group, when none has yet
# area codes of large US cities: 555-0100..555-0199 is fictional in each
AREA_CODES = ("201", "202", "206", "212", "213", "305", "312", "404", "415", "503", "512", "602", "617", "646",
              "702", "713", "718", "720", "786", "917")
AMBIGUOUS = "Will you stop by later?"
SHOWN_FIRST = ("consent", "review", "suppressed", "provider", "deadletter")  # a step's records, at one time


def fresh_numbers(count: int, rng: random.Random | None = None) -> list[str]:
    """``count`` different valid US numbers of the fictional 555-01XX range."""
    rng = rng or random.SystemRandom()
    numbers: list[str] = []
    while len(numbers) < count:
        number = f"+1{rng.choice(AREA_CODES)}55501{rng.randrange(100):02d}"
        if number not in numbers and parse_number(number, "US").status is NumberStatus.VALID:
            numbers.append(number)
    return numbers


def run_id() -> str:
    while True:
        made = secrets.token_hex(3)
        if mask(f"demo-{made}-8") == f"demo-{made}-8":
            return made


def dashboard_base(settings: Settings) -> str:
    if settings.advertised_url:
        return settings.advertised_url.rstrip("/")
    host = settings.web_bind if settings.web_bind not in ("0.0.0.0", "::", "") else "127.0.0.1"
    return f"http://{host}:{settings.web_port}"


def timeline_link(settings: Settings, number: str, account: str) -> str:
    return f"{dashboard_base(settings)}/numbers/{urllib.parse.quote(number)}?" + urllib.parse.urlencode(
        {"account": account})


def after_start_s(settings: Settings) -> float:
    """How long to wait after a START is decided before a send to the number: a few of the
    worker's observations of the reply and send offsets (app/engine/loop.py), at least 1 s."""
    return max(1.0, 5 * settings.commit_interval_ms / 1000)


# ---------------------------------------------------------------- what belongs to a step


def _payload_id(record: Any) -> Any:
    if not isinstance(record, dict) or not isinstance(record.get("payload"), str):
        return None
    try:
        original = json.loads(record["payload"])
    except ValueError:
        return None
    return original.get("message_id") if isinstance(original, dict) else None


def related(seen: list[Seen], message_id: str) -> list[Seen]:
    """The records of ``seen`` that a record with ``message_id`` caused."""
    mine = []
    for one in seen:
        r = one.record if isinstance(one.record, dict) else {}
        if one.kind == "suppressed":
            message = r.get("message") if isinstance(r.get("message"), dict) else {}
            hit = message.get("message_id") == message_id
        elif one.kind == "provider":
            hit = message_id in (r.get("message_id"), r.get("in_reply_to"))
        elif one.kind == "deadletter":
            hit = _payload_id(r) == message_id
        else:
            hit = r.get("message_id") == message_id
        if hit:
            mine.append(one)
    return mine


Check = Callable[[list[Seen]], tuple[bool, str | None]]  # its records -> (done, what went wrong)


def _of(records: list[Seen], kind: str, **fields: Any) -> list[Seen]:
    return [s for s in records if s.kind == kind and all(s.record.get(k) == v for k, v in fields.items())]


def _dead(records: list[Seen]) -> str | None:
    dead = _of(records, "deadletter")
    return f"dead-lettered: {dead[0].record.get('error')}" if dead else None


def consent_change(intent: str) -> Check:
    """An opt-out or opt-in: its consent record; its confirmation too, when it changed the state."""
    def check(records: list[Seen]) -> tuple[bool, str | None]:
        consent = _of(records, "consent")
        if consent and consent[0].record.get("intent") != intent:
            return True, f"read as {consent[0].record.get('intent')}, not {intent}"
        applied = any(c.record.get("verdict") == "applied" for c in consent)
        confirmed = bool(_of(records, "provider", category="compliance"))
        return bool(consent) and (confirmed or not applied), _dead(records)
    return check


def help_answered(records: list[Seen]) -> tuple[bool, str | None]:
    consent = _of(records, "consent")
    if consent and consent[0].record.get("intent") != "help":
        return True, f"read as {consent[0].record.get('intent')}, not help"
    return bool(consent and _of(records, "provider", category="compliance")), _dead(records)


def queued_for_review(records: list[Seen]) -> tuple[bool, str | None]:
    consent = _of(records, "consent")
    if consent and consent[0].record.get("intent") != "review":
        return True, f"read as {consent[0].record.get('intent')}, not as a reply to review"
    return bool(_of(records, "review")), _dead(records)


def suppressed_as(reason: str) -> Check:
    def check(records: list[Seen]) -> tuple[bool, str | None]:
        if [s for s in _of(records, "provider") if s.record.get("category") != "compliance"]:
            return True, "cleared for delivery: it should have been suppressed"
        suppressed = _of(records, "suppressed")
        if suppressed and suppressed[0].record.get("reason") != reason:
            return True, f"suppressed as {suppressed[0].record.get('reason')}, not {reason}"
        return bool(suppressed), _dead(records)
    return check


def delivered(records: list[Seen]) -> tuple[bool, str | None]:
    suppressed = _of(records, "suppressed")
    if suppressed:
        detail = suppressed[0].record.get("detail")
        return True, (f"suppressed ({suppressed[0].record.get('reason')}"
                      + (f": {detail}" if detail else "") + "): it should have been cleared")
    return bool([s for s in _of(records, "provider") if s.record.get("category") != "compliance"]), _dead(records)


def provider_opt_out(records: list[Seen]) -> tuple[bool, str | None]:
    consent = _of(records, "consent")
    if consent and consent[0].record.get("source") != "provider":
        return True, f"recorded with source {consent[0].record.get('source')}, not provider"
    return bool(consent), _dead(records)


@dataclass(frozen=True)
class Step:
    title: str
    record: Record
    number: str
    check: Check
    expected: str  # what should come out, for the message when it does not
    pause_s: float = 0.0  # before it is produced
    why_pause: str = ""


def story(settings: Settings, run: str, numbers: list[str]) -> list[Step]:
    account = f"demo-{run}"
    a, b, c, d, e = numbers

    def mid(n: int) -> str:
        return f"demo-{run}-{n}"

    def reply(n: int, number: str, body: str, locale: str | None = None) -> Record:
        return reply_record(settings, number, body, account=account, locale=locale, message_id=mid(n))

    return [
        Step("a person texts STOP", reply(1, a, "STOP"), a, consent_change("opt_out"),
             "a consent record (opt_out) and a confirmation"),
        Step("a send to that number is suppressed",
             send_record(settings, a, "Your order has shipped", account=account, message_id=mid(2)), a,
             suppressed_as("opted_out"), "a suppression (opted_out)"),
        Step("another person texts ALTO (Spanish, locale es)", reply(3, b, "ALTO", "es"), b,
             consent_change("opt_out"), "a consent record (opt_out) and a confirmation"),
        Step("a third texts HELP and is answered", reply(4, c, "HELP"), c, help_answered,
             "a consent record (help) and the help text"),
        Step(f"an unclear reply ({AMBIGUOUS!r}) goes to review", reply(5, d, AMBIGUOUS), d, queued_for_review,
             "a review item"),
        Step("the first person texts START", reply(6, a, "START"), a, consent_change("opt_in"),
             "a consent record (opt_in) and a confirmation"),
        Step("a send to them, a moment later, is delivered",
             send_record(settings, a, "Your order has shipped", account=account, message_id=mid(7)), a, delivered,
             "the send on the provider topic", pause_s=after_start_s(settings),
             why_pause="a send the worker cannot tell apart from one requested before the START is suppressed "
                       "(it fails closed; it tells them apart by offsets it reads every OPTOUT_COMMIT_INTERVAL_MS)"),
        Step("the provider reports error 21610 (opted out at the carrier) for a fifth number",
             receipt_record(settings, e, provider="twilio", status="undelivered", error_code=21610, account=account,
                            message_id=mid(8)), e, provider_opt_out, "a consent record (opt_out, source provider)"),
    ]


# ---------------------------------------------------------------- playing it


async def worker_members(settings: Settings) -> int | None:
    """How many members the worker group has (None: the broker would not say)."""
    admin = AIOKafkaAdminClient(**kafka_client_options(settings), client_id=f"{settings.app_id}-cli",
                                request_timeout_ms=10_000)
    try:
        await admin.start()
        answers = await admin.describe_consumer_groups([settings.app_id])
        return sum(len(group[5]) for answer in answers for group in answer.groups if group[1] == settings.app_id)
    except Exception:  # describing groups may be forbidden (ACLs): then the steps' timeouts say it
        return None
    finally:
        await admin.close()


async def wait_for_worker(settings: Settings, out: TextIO, wait_s: float) -> bool:
    deadline = time.monotonic() + wait_s
    said = False
    while True:
        members = await worker_members(settings)
        if members is None or members > 0:
            return True
        if time.monotonic() >= deadline:
            return False
        if not said:
            print(f"waiting up to {wait_s:g} s for a worker of group {settings.app_id!r} ...", file=out, flush=True)
            said = True
        await asyncio.sleep(1.0)


async def play(settings: Settings, *, timeout_s: float = STEP_TIMEOUT_S, out: TextIO = sys.stdout,
               err: TextIO = sys.stderr, worker_wait_s: float = WORKER_WAIT_S) -> int:
    started = time.monotonic()
    run = run_id()
    steps = story(settings, run, fresh_numbers(5))
    await check_access(settings)
    if not await wait_for_worker(settings, out, worker_wait_s):
        print(f"demo: no worker of group {settings.app_id!r} is running on {settings.kafka_bootstrap_servers}: "
              "start one (`make run`, or `python -m app worker`) and run the demo again", file=err, flush=True)
        return 1
    print(f"demo {run}: account demo-{run}, fictional 555-01XX numbers (shown whole), worker group "
          f"{settings.app_id!r} on {settings.kafka_bootstrap_servers}", file=out, flush=True)
    kinds = resolve_topics(settings, list(OUTCOMES))
    async with OutputReader(settings, kinds) as reader:
        producer = await start_producer(settings)
        try:
            check_topics(settings, (await producer.client.fetch_all_metadata()).topics(),
                         {step.record.topic for step in steps})
            seen: list[Seen] = []
            for n, step in enumerate(steps, 1):
                code = await _step(settings, reader, producer, seen, n, len(steps), step, timeout_s, out, err)
                if code:
                    return code
        finally:
            await producer.stop()
    print(f"demo {run}: {len(steps)} steps, every outcome as expected, in {time.monotonic() - started:.1f} s",
          file=out, flush=True)
    return 0


async def _step(settings: Settings, reader: OutputReader, producer: Any, seen: list[Seen], n: int, total: int,
                step: Step, timeout_s: float, out: TextIO, err: TextIO) -> int:
    print(f"\n[{n}/{total}] {step.title}", file=out, flush=True)
    if step.pause_s > 0:
        print(f"  waits     {step.pause_s:g} s: {step.why_pause}", file=out, flush=True)
        await asyncio.sleep(step.pause_s)
    record = step.record
    began = time.monotonic()
    await produce(settings, producer, record.topic, dumps(record.value), record.key.encode())
    shown = json.dumps(record.value, ensure_ascii=False)
    print(f"  produced  {record.topic}  {shown}", file=out, flush=True)
    result: list[tuple[bool, str | None]] = []

    def settled(all_seen: list[Seen]) -> bool:
        result[:] = [step.check(related(all_seen, record.message_id))]
        done, wrong = result[0]
        return done or wrong is not None

    arrived = await wait_for(reader, settled, seen, timeout_s)
    took = time.monotonic() - began
    mine = sorted(related(seen, record.message_id), key=lambda s: (s.timestamp_ms, SHOWN_FIRST.index(s.kind)))
    for i, one in enumerate(mine):
        print(f"  {'outcome' if i == 0 else '':<8}  {one.line(numbers=True)}", file=out, flush=True)
    print(f"  {took:5.2f} s  {timeline_link(settings, step.number, str(record.value['account_id']))}", file=out,
          flush=True)
    if not arrived:
        print(f"demo: step {n} ({step.title}): no outcome within {timeout_s:g} s (expected {step.expected} on the "
              f"output topics): is the worker running and caught up? (`curl {dashboard_base(settings)}/health`)",
              file=err, flush=True)
        return 1
    _, wrong = result[0]
    if wrong is not None:
        print(f"demo: step {n} ({step.title}): {wrong}", file=err, flush=True)
        return 1
    return 0


def run_demo(settings: Settings, *, timeout_s: float = STEP_TIMEOUT_S) -> int:
    """Play the story (:class:`CommandError` when the broker or the topics cannot be used)."""
    return asyncio.run(play(settings, timeout_s=timeout_s))
