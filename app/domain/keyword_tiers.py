"""The tiers of reply classification, and every other way a consent record is made, declared
once (pure data, and the texts made from it).

:mod:`app.domain.keywords` implements the tiers; everything that describes them is made from
this declaration: the evidence packet's ``how-decided.md`` and the keys of its
``keywords.json`` (:mod:`app.reports.evidence_packet`), the ``source`` and ``rule``
descriptions of the ``sms.consent`` schema (:mod:`schemas.consent`, exported to
``schemas/json`` by ``make schemas``) and the README's table between
``<!-- keyword-tiers:start -->`` and ``<!-- keyword-tiers:end -->`` (:func:`readme_block`).

``tests/unit/app/domain/test_keyword_tiers.py`` holds it to the code: every ``rule`` and
``source`` the code can record is declared here and every one declared here is recorded, with
the declared intents; every example classifies as declared, every counter-example does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RuleEntry:
    """One value of a consent record's ``rule``: what makes it and what the record says."""

    rule: str | None  # the record's ``rule``; ``<name>`` stands for a variable part; None: no record
    source: str | None  # the record's ``source``
    intents: tuple[str, ...]  # the record's ``intent`` (a reply's classification)
    matches: str  # what makes it: one sentence, lower case, no final stop
    tier: int | None = None  # the classifier's tier, first match wins; None: not a reply's classification
    examples: tuple[str, ...] = ()  # replies classified so (no locale, built-in lists, EXAMPLE_LOCALES)
    not_examples: tuple[str, ...] = ()  # replies that look so but are not

    @property
    def pattern(self) -> re.Pattern[str] | None:
        """What a recorded ``rule`` of this entry looks like."""
        if self.rule is None:
            return None
        parts = re.split(r"<[^>]+>", self.rule)
        return re.compile(".+".join(re.escape(p) for p in parts) + r"\Z")


# ------------------------------------------------------------ a reply's classification, in order

EXAMPLE_LOCALES = "en,es"  # the default locales the examples are classified with (a reply without locale)

TIERS: tuple[RuleEntry, ...] = (
    RuleEntry(
        "keyword", "keyword", ("opt_out", "opt_in", "help"), tier=1,
        matches="the whole message, its words joined, equals a keyword (so Opt-out, opt out and OPTOUT agree, "
        "as do STOP ALL and STOPALL), alone or with only courtesy or emphasis words around it, or is an "
        "opt-out keyword with letters repeated unless that is a dictionary word",
        examples=("STOP", "Opt-out", "opt out", "STOP ALL", '"STOP."', "🛑 stop", "STOP PLEASE", "please stop",
                  "Stop it!", "opt out please", "Stop. Thank you", "STOP NOW", "stop stop stop", "ALTO por favor",
                  "Stopp bitte", "arrêt svp", "stopppp", "Please stopppp", "ALTOOO", "START", "HELP"),
        not_examples=("stoop", "quitt"),
    ),
    RuleEntry(
        "phrase", "phrase", ("opt_out",), tier=2,
        matches="it matches the grammar of one of its locales or contains a configured opt-out phrase as "
        "consecutive words",
        examples=("Stop texting me!", "don't contact me", "remove me from this list", "Leave me alone",
                  "lose my number"),
        not_examples=("can you stop by tomorrow?", "I quit smoking"),
    ),
    RuleEntry(
        "negated_phrase", "phrase", ("review",), tier=2,
        matches="the same, right after a negation: a person decides",
        examples=("please don't remove me", "no quiero darme de baja"),
        not_examples=("No, don't text me",),
    ),
    RuleEntry(
        "qualified_phrase", "phrase", ("review",), tier=2,
        matches="the same, restricted by a time or another channel: the person asked for less, a person decides "
        "how much",
        examples=("don't text me after 9pm", "don't call me now", "Don't call me, text me instead"),
        not_examples=("don't text me anymore",),
    ),
    RuleEntry(
        "embedded_keyword", "keyword", ("review",), tier=3,
        matches="it contains a review word of its locales (an opt-out keyword that is not an everyday word) as a "
        "separate word: a person decides",
        examples=("we have got to STOP this bill", "Stop by at 5", "Remove me from the waitlist for now",
                  "quiero cancelar mi cita", "TD"),
        not_examples=("el volumen está muy alto",),
    ),
    RuleEntry(
        "typo", "keyword", ("review",), tier=4,
        matches="one or two words (courtesy words aside) one edit (a letter changed, added or dropped, or two "
        "neighbours swapped) from an opt-out keyword of four letters or more of its locales, and not a "
        "dictionary word: a person decides; opt-in and help words are never guessed",
        examples=("Stpo", "STIP", "sotp", "st0p", "cancle", "unsubscibe", "opt otu", "ATLO"),
        not_examples=("step", "shop", "stomp", "stoop", "top", "quite", "quiet", "also", "pasta", "bajo", "strat",
                      "hepl", "edn"),
    ),
    RuleEntry(
        None, None, ("none",), tier=5,
        matches="anything else, a keyword inside another word included: no record, nothing changes",
        examples=("weekend", "see you at the weekend", "stopping", "I'll attend", "Thanks!", "I bank with TD"),
    ),
)

# ------------------------------------------------------------ every other consent record

OTHER_RULES: tuple[RuleEntry, ...] = (
    RuleEntry(
        "operator", "operator", ("opt_out",),
        matches="an operator opted the number out (POST /optouts, or python -m app import-optouts), saying who "
        "asked and why; no operator can opt anyone in",
    ),
    RuleEntry(
        "<provider>:<code>", "provider", ("opt_out",),
        matches="a provider's delivery receipt carried an error code configured as opt-out evidence "
        "(OPTOUT_PROVIDER_OPTOUT_CODES; e.g. twilio:21610, or *:21610 for a code configured for any provider)",
    ),
    RuleEntry(
        "review", "review", ("opt_out", "review"),
        matches="a person decided a queued reply (POST /reviews/{review_id}): opted it out (intent opt_out) or "
        "dismissed it (intent review, verdict dismissed)",
    ),
    RuleEntry(
        "review_deadline", "review_deadline", ("opt_out",),
        matches="nobody decided a queued reply within OPTOUT_REVIEW_BUSINESS_DAYS business days: opted out, "
        "fail closed (unless OPTOUT_REVIEW_EXPIRY is keep)",
    ),
    RuleEntry(
        "review_queue_full", "review_deadline", ("opt_out",),
        matches="a reply that needed review found OPTOUT_REVIEW_MAX_PENDING items waiting in its partition: "
        "opted out at once, fail closed",
    ),
)

RULES: tuple[RuleEntry, ...] = TIERS + OTHER_RULES

# the record's ``source``: what made the event (the rules each records: :func:`rules_of`)
SOURCES: dict[str, str] = {
    "keyword": "a reply matched by a keyword: the whole message, a review word in it, or a typo of one",
    "phrase": "a reply matched by the grammar of its locales or a configured phrase",
    "operator": "an operator's opt-out",
    "provider": "a provider's error code that means the number opted out with the provider",
    "review": "a person's decision on a queued reply",
    "review_deadline": "a queued reply nobody decided in time, or one that found the review queue full: "
    "opted out, fail closed",
}


@dataclass(frozen=True, slots=True)
class WordList:
    """One list of a keyword set, as the evidence packet's ``keywords.json`` names it."""

    name: str  # its key in keywords.json
    field: str  # the app.domain.keywords.KeywordSet attribute
    applies: str  # which replies it applies to
    rules: tuple[str, ...]  # the rules that read it


WORD_LISTS: tuple[WordList, ...] = (
    WordList("opt_out", "opt_out", "every reply (every pack's, plus the locale-only words of the reply's locales)",
             ("keyword", "typo")),
    WordList("opt_in", "opt_in", "every reply (every pack's)", ("keyword",)),
    WordList("help", "help", "every reply (every pack's)", ("keyword",)),
    WordList("phrases", "phrases", "the reply's locales", ("phrase", "negated_phrase")),
    WordList("grammar", "patterns", "the reply's locales", ("phrase", "negated_phrase", "qualified_phrase")),
    WordList("review_words", "review", "the reply's locales", ("embedded_keyword",)),
    WordList("courtesy_words", "courtesy", "every reply (every pack's)", ("keyword", "phrase", "typo")),
    WordList("negations", "negations", "the reply's locales", ("negated_phrase",)),
    WordList("typo_watched_words", "near", "the reply's locales", ("typo",)),
)


def entry_of(rule: str | None) -> RuleEntry | None:
    """The declared entry a recorded ``rule`` value is (None: none is)."""
    for entry in RULES:
        if entry.rule == rule or (entry.pattern is not None and rule is not None and entry.pattern.match(rule)):
            return entry
    return None


def rules_of(source: str) -> tuple[str, ...]:
    """The rules a record of this source can name."""
    return tuple(e.rule for e in RULES if e.source == source and e.rule is not None)


# ------------------------------------------------------------ texts made from it


def _codes(values: tuple[str, ...]) -> str:
    return ", ".join(f"`{v}`" for v in values)


def examples_note() -> str:
    return (f"The examples are replies without a locale, classified with the built-in lists and the default "
            f"locales `{EXAMPLE_LOCALES}`; the tests classify each as shown.")


def tiers_table() -> str:
    """The tiers as a Markdown table (README, how-decided.md)."""
    lines = ["| tier | `rule` | intent | `source` | what it matches | e.g. | not |", "|---|---|---|---|---|---|---|"]
    for e in TIERS:
        lines.append(f"| {e.tier} | {_codes((e.rule,)) if e.rule else '–'} | {_codes(e.intents)} | "
                     f"{_codes((e.source,)) if e.source else '– (no record)'} | {e.matches} | "
                     f"{_codes(e.examples)} | {_codes(e.not_examples) or '–'} |")
    return "\n".join(lines) + "\n"


def records_table() -> str:
    """Every source and rule a consent record can name, as a Markdown table (how-decided.md)."""
    lines = ["| `source` | what made the event | `rule` |", "|---|---|---|"]
    for source, what in SOURCES.items():
        lines.append(f"| `{source}` | {what} | {_codes(rules_of(source))} |")
    lines += ["", "| `rule` | `intent` | what makes it |", "|---|---|---|"]
    for e in OTHER_RULES:
        lines.append(f"| `{e.rule}` | {_codes(e.intents)} | {e.matches} |")
    return "\n".join(lines) + "\n"


def lists_table() -> str:
    """The lists of ``keywords.json``, as a Markdown table (how-decided.md)."""
    lines = ["| list | applies to | read by the rules |", "|---|---|---|"]
    for w in WORD_LISTS:
        lines.append(f"| `{w.name}` | {w.applies} | {_codes(w.rules)} |")
    return "\n".join(lines) + "\n"


def source_description() -> str:
    """The ``sms.consent`` schema's description of ``source``."""
    parts = [f"{source}: {what} (rule {', '.join(rules_of(source))})" for source, what in SOURCES.items()]
    return "What made the event. " + "; ".join(parts) + "."


def rule_description() -> str:
    """The ``sms.consent`` schema's description of ``rule``."""
    tiers = " ".join(f"{e.rule} (tier {e.tier}): {e.matches}." for e in TIERS if e.rule)
    others = " ".join(f"{e.rule}: {e.matches}." for e in OTHER_RULES)
    return (f"The rule that made the event. A reply is classified by the first tier that matches: {tiers} "
            f"Other events: {others}")


README_START = "<!-- keyword-tiers:start -->"
README_END = "<!-- keyword-tiers:end -->"


def readme_block() -> str:
    """The README's tier table, markers included."""
    return (f"{README_START}\n<!-- generated from app/domain/keyword_tiers.py (readme_block); "
            f"tests/unit/app/domain/test_keyword_tiers.py checks it -->\n{examples_note()}\n\n{tiers_table()}"
            f"{README_END}")
