"""Reply classification, tiered (pure).

1. The whole normalized message equals a keyword -> that keyword's intent.
2. It contains a configured opt-out phrase -> ``opt_out`` (``review`` when the
   phrase is negated: "please don't remove me").
3. It contains an opt-out keyword as a separate word -> ``review`` (a person decides).
4. Otherwise ``none``. A keyword inside another word ("weekend") never matches.

Normalization: Unicode NFKC, case-fold, accents folded, apostrophes dropped
("don't" = "dont"), every other non-alphanumeric character (whitespace,
punctuation, hyphens, emoji) separates words. For whole-message keywords the
words are joined, so "Opt-out", "opt out" and "OPTOUT" agree, as do "STOP ALL"
and "STOPALL".
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum


class Intent(str, Enum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    REVIEW = "review"
    NONE = "none"


class Rule(str, Enum):
    KEYWORD = "keyword"  # whole message is a keyword
    PHRASE = "phrase"  # contains an opt-out phrase
    NEGATED_PHRASE = "negated_phrase"  # contains an opt-out phrase right after a negation
    EMBEDDED_KEYWORD = "embedded_keyword"  # contains an opt-out keyword as a word


FCC_OPT_OUT = ("stop", "quit", "end", "revoke", "opt out", "cancel", "unsubscribe")
DEFAULT_OPT_OUT = FCC_OPT_OUT + ("stopall", "stop all", "optout", "opt-out", "remove", "unsub", "arret", "arrêt")
DEFAULT_OPT_IN = ("start", "yes", "unstop", "nonarret")
DEFAULT_HELP = ("help", "info", "aide")
DEFAULT_PHRASES = (
    "stop texting me",
    "stop texting",
    "stop messaging me",
    "stop sending",
    "remove me",
    "unsubscribe me",
    "take me off",
    "do not text",
    "dont text me",
    "opt me out",
    "no more texts",
    "no more messages",
    "leave me alone",
)
NEGATIONS = frozenset({"dont", "not", "never", "didnt", "doesnt", "wont", "cant", "shouldnt", "no"})

_APOSTROPHES = "'’‘`´ʼ"


def words(body: str) -> tuple[str, ...]:
    """Normalized words of ``body``."""
    text = unicodedata.normalize("NFKC", body).casefold()
    stripped = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    text = unicodedata.normalize("NFKC", stripped)  # recompose what is not an accent (e.g. Hangul)
    out: list[str] = []
    current: list[str] = []
    for ch in text:
        if ch.isalnum():
            current.append(ch)
        elif ch in _APOSTROPHES:
            continue
        elif current:
            out.append("".join(current))
            current = []
    if current:
        out.append("".join(current))
    return tuple(out)


def normalize_text(body: str) -> str:
    """The normalized message: its words joined by single spaces."""
    return " ".join(words(body))


def keyword_key(keyword: str) -> str:
    """What a whole message must equal (after normalization) to be this keyword."""
    return "".join(words(keyword))


@dataclass(frozen=True, slots=True)
class KeywordSet:
    """Keywords and phrases; sets from configuration are merged into the defaults."""

    opt_out: frozenset[str] = frozenset(DEFAULT_OPT_OUT)
    opt_in: frozenset[str] = frozenset(DEFAULT_OPT_IN)
    help: frozenset[str] = frozenset(DEFAULT_HELP)
    phrases: frozenset[str] = frozenset(DEFAULT_PHRASES)

    def merged(self, opt_out: Iterable[str] = (), opt_in: Iterable[str] = (), help: Iterable[str] = (),
               phrases: Iterable[str] = ()) -> KeywordSet:
        return KeywordSet(
            self.opt_out | frozenset(opt_out),
            self.opt_in | frozenset(opt_in),
            self.help | frozenset(help),
            self.phrases | frozenset(phrases),
        )

    def conflicts(self) -> list[str]:
        """Keywords that would mean two intents at once (a configuration error)."""
        by_key: dict[str, set[str]] = {}
        for name, group in (("opt_out", self.opt_out), ("opt_in", self.opt_in), ("help", self.help)):
            for keyword in group:
                by_key.setdefault(keyword_key(keyword), set()).add(name)
        return sorted(f"{key!r} is in {' and '.join(sorted(names))}" for key, names in by_key.items() if len(names) > 1)


@dataclass(frozen=True, slots=True)
class Classification:
    intent: Intent
    matched: str | None = None
    rule: Rule | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"intent": self.intent.value, "matched": self.matched, "rule": self.rule.value if self.rule else None}


NOTHING = Classification(Intent.NONE)


@dataclass(slots=True)
class Classifier:
    keywords: KeywordSet = field(default_factory=KeywordSet)
    _exact: dict[str, Intent] = field(init=False)
    _phrases: list[tuple[str, ...]] = field(init=False)
    _opt_out_words: list[tuple[str, ...]] = field(init=False)

    def __post_init__(self) -> None:
        conflicts = self.keywords.conflicts()
        if conflicts:
            raise ValueError("conflicting keywords: " + "; ".join(conflicts))
        self._exact = {}
        for group, intent in (
            (self.keywords.opt_out, Intent.OPT_OUT),
            (self.keywords.opt_in, Intent.OPT_IN),
            (self.keywords.help, Intent.HELP),
        ):
            for keyword in group:
                key = keyword_key(keyword)
                if key:
                    self._exact[key] = intent
        self._phrases = sorted({words(p) for p in self.keywords.phrases if words(p)}, key=len, reverse=True)
        self._opt_out_words = sorted({words(k) for k in self.keywords.opt_out if words(k)}, key=len, reverse=True)

    def classify(self, body: str) -> Classification:
        tokens = words(body)
        if not tokens:
            return NOTHING
        joined = "".join(tokens)
        intent = self._exact.get(joined)
        if intent is not None:
            return Classification(intent, joined, Rule.KEYWORD)
        for phrase in self._phrases:
            at = _find(tokens, phrase)
            if at >= 0:
                matched = " ".join(phrase)
                if at > 0 and tokens[at - 1] in NEGATIONS:
                    return Classification(Intent.REVIEW, matched, Rule.NEGATED_PHRASE)
                return Classification(Intent.OPT_OUT, matched, Rule.PHRASE)
        for keyword in self._opt_out_words:
            if _find(tokens, keyword) >= 0:
                return Classification(Intent.REVIEW, " ".join(keyword), Rule.EMBEDDED_KEYWORD)
        return NOTHING


def _find(tokens: tuple[str, ...], seq: tuple[str, ...]) -> int:
    """Index where ``seq`` occurs as consecutive whole words of ``tokens``, or -1."""
    n = len(seq)
    first = seq[0]
    for i in range(len(tokens) - n + 1):
        if tokens[i] == first and tokens[i : i + n] == seq:
            return i
    return -1
