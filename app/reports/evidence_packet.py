"""The evidence packet (pure): a zip of consent timelines, the keyword lists that classified
each reply, a plain account of how the system decided, and a manifest of SHA-256 digests.

Files (docs/evidence.md says what they prove and what they do not):

- ``timeline.json``: the timelines (:func:`app.stream.timeline.answer`), as the API answers them;
- ``timeline.csv``: one row per event, every timeline (cells a spreadsheet would run as a
  formula start with ``'``);
- ``keywords.json``: for each keyword lists' id the events name, the lists (words,
  phrases, grammar, review and courtesy words) if the running configuration or a
  configuration recorded in the table rebuilds exactly that id, else a statement that
  its words are not known; and the running configuration;
- ``how-decided.md``: how the system decided, generated from the running settings
  (matching rules, ordering rule, scope, locales, clock-skew bound, review rules);
- ``settings.json``: those settings (no secret);
- ``manifest.json``: every other file's name, size and SHA-256, what was asked, when and
  by which worker the packet was made.

The zip is deterministic for its inputs (entries in a fixed order, stamped with the
packet's time).
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

from app.domain.keyword_tiers import WORD_LISTS, examples_note, lists_table, records_table, tiers_table
from app.domain.keywords import KeywordSet
from app.domain.locales import BASE, PACKS
from app.domain.policy import Policy
from app.reports.csv_cells import cell
from app.stream import timeline

PACKET_VERSION = 1
CSV_COLUMNS = ("number", "account_id", *(f for f in timeline.FIELDS if f != "consent"), "consent_partition",
               "consent_offset")
# the settings that decide (app.settings.Settings); never a token
DECIDING_SETTINGS = ("scope", "default_region", "default_locales", "keywords_file", "provider_optout_codes",
                     "max_body_chars", "max_clock_skew_ms", "review_business_days", "review_expiry",
                     "review_max_pending", "processing_guarantee", "timeline_max_events", "partitions",
                     "consent_topic", "app_id")


# ------------------------------------------------------------ keyword lists


def describe_keywords(keywords: KeywordSet) -> dict:
    """The lists of a keyword set (``app.domain.keyword_tiers.WORD_LISTS``), sorted (what its digest covers)."""
    out: dict[str, Any] = {}
    for word_list in WORD_LISTS:
        value = getattr(keywords, word_list.field)
        if word_list.field == "patterns":
            out[word_list.name] = [{"locale": p.lang, "name": p.name, "regex": p.regex, "qualifiers": p.qualifiers}
                                   for p in value]
        elif value is None:  # near: None is every opt-out word
            out[word_list.name] = "every opt-out word"
        else:
            out[word_list.name] = sorted(value)
    return out


def keyword_sets(policy: Policy) -> dict[str, dict]:
    """Every keyword lists' id a policy can classify a reply with: ``{id: {"account", "locale",
    "keywords": KeywordSet}}`` (the first (account, locale) that makes it)."""
    found: dict[str, dict] = {}
    for account in ["", *policy.accounts]:
        for locale in [None, *policy.locales, *PACKS]:
            keywords = policy.keywords(account, locale)
            found.setdefault(keywords.digest(), {"account": account or None, "locale": locale,
                                                 "keywords": keywords})
    return found


def resolve_keywords(wanted: Iterable[str], running: tuple[Mapping[str, Any], Mapping[str, dict]],
                     recorded: Sequence[tuple[Mapping[str, Any], Mapping[str, dict] | None]]) -> dict[str, dict]:
    """What is known of each keyword lists' id in ``wanted``. ``running`` is the running
    configuration and its :func:`keyword_sets`; ``recorded`` the configurations recorded in
    the table with theirs (None: it could not be rebuilt)."""
    out: dict[str, dict] = {}
    running_config, running_sets = running
    for kid in sorted(set(wanted)):
        if kid in running_sets:
            hit = running_sets[kid]
            out[kid] = {"known": True, "configuration": running_config["config_id"], "running": True,
                        "account": hit["account"], "locale": hit["locale"],
                        "lists": describe_keywords(hit["keywords"])}
            continue
        for config, sets in recorded:
            if sets and kid in sets:
                hit = sets[kid]
                out[kid] = {"known": True, "configuration": config["config_id"], "running": False,
                            "account": hit["account"], "locale": hit["locale"],
                            "lists": describe_keywords(hit["keywords"])}
                break
        else:
            out[kid] = {"known": False, "running": False, "statement": (
                f"{kid} is not the id of any keyword lists of the running configuration "
                f"({running_config['config_id']}), and no configuration recorded in the table rebuilds it with "
                "the running code: its words are not known. The reply's text, the words that matched and the "
                "rule are in its event.")}
    return out


# ------------------------------------------------------------ how the system decided


def _ms(ms: int) -> str:
    if ms % 60_000 == 0:
        return f"{ms // 60_000} minute(s)"
    return f"{ms / 1000:g} second(s)"


def how_decided(settings: Mapping[str, Any], running_config: Mapping[str, Any]) -> str:
    """A plain account of how the system decided, from the running settings."""
    s = settings
    locales = ", ".join(loc.strip() for loc in str(s["default_locales"]).split(",") if loc.strip())
    packs = ", ".join(f"{code} ({pack.language})" for code, pack in PACKS.items())
    if s["scope"] == "global":
        scope = ("**global**: an opt-out from a number applies to every account; the state and the timeline are "
                 "kept once per number (account `*`), each event naming the account it came in for")
    else:
        scope = ("**per account**: an opt-out applies to the account the person wrote to; each account has its own "
                 "state and timeline for the number")
    expiry = ("opted out (fail closed)" if s["review_expiry"] == "opt_out"
              else "kept pending until a person decides")
    config = (f"the configuration file `{running_config.get('file')}` (SHA-256 "
              f"`{running_config.get('file_sha256')}`) added to the built-in lists" if running_config.get("file")
              else "the built-in lists only (no configuration file)")
    return f"""# How the system decided

Generated from the running settings of the worker that made this packet. Configuration
`{running_config['config_id']}`: {config}; default locales `{s['default_locales']}`.

## What counts as a consent event

- **A reply** (a text the person sent) is classified into one intent: opt-out, opt-in, help,
  review (a person must judge it) or none. Only opt-outs and opt-ins change the state.
- **An operator opt-out** (`POST /optouts`, with who asked and why) opts a number out; no
  operator can opt anyone in.
- **A provider's error code** that means the number opted out with the provider
  (`{s['provider_optout_codes']}`) opts it out.
- **A review decision**: a person opts out a queued reply, or dismisses it; an item nobody
  decides within {s['review_business_days']} business days (Monday to Friday; public holidays
  are not known) is {expiry}. At most {s['review_max_pending']} items wait per table
  partition; beyond, a reply that needs review is opted out at once (fail closed).

## How a reply is matched

The text is normalized first (Unicode NFKC, case folded, accents folded, apostrophes
dropped, every other non-letter and non-digit separates words); only its first
{s['max_body_chars']} characters are classified. Then the first tier that matches decides.
{examples_note()}

{tiers_table()}
The lists each reply was classified with are in `keywords.json`, under the id its event
names. The whole-message keywords of every installed pack ({packs}) apply to every reply;
phrases, grammar and review words apply to the reply's locales: its own locale, else its
account's, else the default locales `{locales}`; English ({BASE}) always applies too.

{lists_table()}
## What each record says made it

Each event names its `source` and `rule`: a reply's rule is the tier that classified it
(above); the other rules are these.

{records_table()}
## Ordering: which event wins

Consent events are ordered by **(event time, opt-out before opt-in, message id)**. An event
applies only if it is newer than the newest event already seen for the number and account;
an older one is recorded as **stale** and changes nothing (a late STOP still keeps sends
requested before the newer opt-in suppressed). An event with the same message id and the
same content as one already seen is a replay: nothing is recorded again. A newer event that
asks for the state the number is already in is recorded as **unchanged**.

Event time is the time the reply says it was received, bounded: no client-supplied time is
believed more than {_ms(int(s['max_clock_skew_ms']))} after the record reached the broker (or the
worker's clock, if earlier); an opt-in is never ordered after its record's own time.

## Scope

{scope}.

## Sends

A send is suppressed if the number is opted out when it is decided, **or was opted out at any
moment since the send was requested** (fail closed both ways), and it is decided only after
every reply received before it was requested has been applied. Confirmations (one per change
made by a reply or a review decision, none for operator or provider opt-outs, none when the
state did not change) and HELP answers are sent even to opted-out numbers.

## Records

Every consent event is appended to the consent log (`{s['consent_topic']}`), the source of
truth, never changed; the timeline in this packet is kept with the opt-out table and points
to each event's record in that log (partition and offset). A timeline keeps at most
{s['timeline_max_events']} events per number and account: beyond, the earliest 10 and the
latest are kept and the others counted (`events_left_out`); they are all in the consent log.
Processing guarantee: `{s['processing_guarantee']}`.
"""


def settings_view(settings: Any) -> dict:
    """The settings that decide (no secret)."""
    out = {}
    for name in DECIDING_SETTINGS:
        value = getattr(settings, name)
        out[name] = str(value) if value is not None and not isinstance(value, int | str) else value
    return out


# ------------------------------------------------------------ the files




def timeline_csv(timelines: Sequence[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in timelines:
        for event in line["events"]:
            where = event.get("consent") or {}
            account = event.get("account_id") or line["account_id"]
            writer.writerow([line["number"], cell(account),
                             *(cell(event.get(f)) for f in CSV_COLUMNS[2:-2]),
                             cell(where.get("partition")), cell(where.get("offset"))])
    return out.getvalue()


def packet(request: Mapping[str, Any], timelines: Sequence[Mapping[str, Any]], keywords: Mapping[str, dict],
           running_config: Mapping[str, Any], settings: Mapping[str, Any], generated_at: datetime,
           worker: str) -> bytes:
    """The zip."""
    files: list[tuple[str, bytes]] = [
        ("timeline.json", orjson.dumps({"generated_at": generated_at.isoformat(), "request": request,
                                        "timelines": list(timelines)}, option=orjson.OPT_INDENT_2)),
        ("timeline.csv", timeline_csv(timelines).encode("utf-8")),
        ("keywords.json", orjson.dumps({"running_configuration": running_config, "keyword_lists": keywords},
                                       option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)),
        ("how-decided.md", how_decided(settings, running_config).encode("utf-8")),
        ("settings.json", orjson.dumps(settings, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)),
    ]
    manifest = {
        "packet_version": PACKET_VERSION,
        "generated_at": generated_at.isoformat(),
        "generated_by": worker,
        "request": request,
        "numbers": len(timelines),
        "events": sum(len(t["events"]) for t in timelines),
        "keyword_lists_unknown": sorted(k for k, v in keywords.items() if not v["known"]),
        "files": [{"name": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                  for name, data in files],
    }
    files.append(("manifest.json", orjson.dumps(manifest, option=orjson.OPT_INDENT_2)))
    stamp = generated_at.timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            info = zipfile.ZipInfo(f"evidence/{name}", date_time=max(stamp, (1980, 1, 1, 0, 0, 0)))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def keyword_ids(timelines: Iterable[Mapping[str, Any]]) -> set[str]:
    return {e["keywords_id"] for t in timelines for e in t["events"] if e.get("keywords_id")}


def in_period(events: Iterable[Mapping[str, Any]], since: datetime, until: datetime) -> list[Mapping[str, Any]]:
    """The events dated (event time) at or after ``since`` and before ``until``."""
    out = []
    for event in events:
        when = event.get("event_time")
        if when:
            moment = datetime.fromisoformat(when)
            if moment.tzinfo is None:
                continue
            if since <= moment < until:
                out.append(event)
    return out
