"""Reply classification: which replies opt a contact out or back in (pure)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import Enum


class Intent(str, Enum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    NONE = "none"


DEFAULT_OPT_OUT = frozenset({"stop", "cancel", "end", "quit", "stopall", "unsubscribe"})
DEFAULT_OPT_IN = frozenset({"start", "yes", "unstop"})


@dataclass(frozen=True, slots=True)
class Classification:
    intent: Intent
    matched: str | None = None


def _is_edge_noise(ch: str) -> bool:
    """Whitespace, punctuation, symbols (emoji) and marks around a keyword."""
    category = unicodedata.category(ch)
    return ch.isspace() or category[0] in "PSZC" or category in ("Mn", "Me")


def normalize_text(body: str) -> str:
    """NFKC, case-fold, accents folded, surrounding noise stripped, inner spaces collapsed."""
    text = unicodedata.normalize("NFKC", body).casefold()
    decomposed = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    start, end = 0, len(text)
    while start < end and _is_edge_noise(text[start]):
        start += 1
    while end > start and _is_edge_noise(text[end - 1]):
        end -= 1
    return " ".join(text[start:end].split())


class KeywordClassifier:
    """Whole-message keyword matching: the normalized message must equal a keyword."""

    def __init__(
        self,
        opt_out: frozenset[str] = DEFAULT_OPT_OUT,
        opt_in: frozenset[str] = DEFAULT_OPT_IN,
    ) -> None:
        self._lookup: dict[str, Intent] = {}
        for words, intent in ((opt_in, Intent.OPT_IN), (opt_out, Intent.OPT_OUT)):
            for word in words:
                self._lookup[normalize_text(word)] = intent

    def classify(self, body: str) -> Classification:
        text = normalize_text(body)
        intent = self._lookup.get(text)
        if intent is None:
            return Classification(Intent.NONE)
        return Classification(intent, text)
