"""Reply classification, tiered (pure): the first tier that matches decides.

The tiers (the ``rule`` each records, its intents, what it matches, examples) are declared in
:mod:`app.domain.keyword_tiers`, which the README, the evidence packet and the ``sms.consent``
schema describe them from; ``tests/unit/app/domain/test_keyword_tiers.py`` holds that
declaration to this code. In order: :meth:`Classifier._keyword` (tier 1, with the exact match in
:meth:`Classifier.classify`), :meth:`Classifier._grammar` and the phrases (tier 2), the review
words (tier 3), :meth:`Classifier._typo` (tier 4), else ``none``.

Normalization: Unicode NFKC, case-fold, accents folded the way people omit them ("não" =
"nao", "ß" = "ss", and the letters Unicode does not decompose: "œ" = "oe", "æ" = "ae", "ø" = "o",
"ł" = "l", "đ" = "d", dotless "ı" = "i"), apostrophes dropped ("don't" = "dont"), every other
non-alphanumeric character (whitespace, punctuation, hyphens, emoji) separates words. For
whole-message keywords the words are joined, so "Opt-out", "opt out" and "OPTOUT" agree, as do
"STOP ALL" and "STOPALL". German's other way of omitting umlauts ("ue" for "ü": "kuendigen",
"loeschen") is the German pack's: its words and grammar are written to accept both.

The word lists live in ``app.domain.locales`` (one pack per language).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import lru_cache
from itertools import groupby
from types import MappingProxyType

from app.domain.locales import BASE, PACKS, Pack, Pattern, en
from app.domain.locales.dictionary import WORDS as DICTIONARY_WORDS


class Intent(str, Enum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    REVIEW = "review"
    NONE = "none"


class Rule(str, Enum):
    """The tier that classified a reply (what each matches: ``app.domain.keyword_tiers.TIERS``)."""

    KEYWORD = "keyword"
    PHRASE = "phrase"
    NEGATED_PHRASE = "negated_phrase"
    QUALIFIED_PHRASE = "qualified_phrase"
    EMBEDDED_KEYWORD = "embedded_keyword"
    TYPO = "typo"


FCC_OPT_OUT = en.FCC_OPT_OUT
# Canada's French words (the French pack's) stay in the English defaults: a classifier built from
# the defaults alone honours them, as before
_CANADA = ("arret", "arrêt"), ("nonarret",), ("aide",)
DEFAULT_OPT_OUT = en.PACK.opt_out + _CANADA[0]
DEFAULT_OPT_IN = en.PACK.opt_in + _CANADA[1]
DEFAULT_HELP = en.PACK.help + _CANADA[2]
DEFAULT_PHRASES = en.PACK.phrases
DEFAULT_REVIEW = en.PACK.review + en.PACK.review_alone + _CANADA[0]
NEGATIONS = frozenset(en.PACK.negations)
_SHORT = 8  # words: a message this short may be a keyword with courtesy words around it
TYPO_MIN_LENGTH = 4  # opt-out keywords shorter than this have no typo rule ("end": "and", "ens", ...)

_APOSTROPHES = "'’‘`´ʼ"
# letters without a Unicode decomposition, folded as people write them without the key for them
_UNDECOMPOSED = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "ı": "i", "ħ": "h", "ŧ": "t"})
_ASCII_DROP = str.maketrans("", "", "'`")
_ASCII_WORD = re.compile(r"[a-z0-9]+")
_REPEATS = re.compile(r"(?<=(.))\1+")  # what follows a character and repeats it


def words(body: str) -> tuple[str, ...]:
    """Normalized words of ``body``."""
    if body.isascii():  # fast path, same result: NFKC and accent folding change no ASCII text
        return tuple(_ASCII_WORD.findall(body.lower().translate(_ASCII_DROP)))
    text = unicodedata.normalize("NFKC", body).casefold()
    stripped = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    text = unicodedata.normalize("NFKC", stripped.translate(_UNDECOMPOSED))  # recompose what is not an accent
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


@lru_cache(maxsize=8192)  # called on configured and built-in words only, never on a reply
def keyword_key(keyword: str) -> str:
    """What a whole message must equal (after normalization) to be this keyword."""
    return "".join(words(keyword))


# review words that count only as the whole message, courtesy aside (``Pack.review_alone``): TD alone
# goes to a person, "my TD account" is nothing
REVIEW_ALONE = frozenset(keyword_key(w) for p in PACKS.values() for w in p.review_alone)


def collapse(word: str) -> str:
    """Runs of one character made one: 'stopppp' -> 'stop', 'arrett' -> 'aret'."""
    return _REPEATS.sub("", word)


def stretches(word: str, keyword: str) -> bool:
    """True when ``word`` is ``keyword`` with letters repeated ('stopppp', 'stoop'), none dropped
    ('anulla' drops an n of ANNULLA: a typo, not a stretch)."""
    if word == keyword or len(word) <= len(keyword):
        return False
    runs = [(char, len(list(group))) for char, group in groupby(word)]
    key_runs = [(char, len(list(group))) for char, group in groupby(keyword)]
    return len(runs) == len(key_runs) and all(c == k and n >= m for (c, n), (k, m) in zip(runs, key_runs))


def edit_distance_is_one(a: str, b: str) -> bool:
    """True when ``b`` is ``a`` with one letter changed, added or dropped, or two neighbours swapped."""
    la, lb = len(a), len(b)
    if a == b or abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if la < lb else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1:]


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


@dataclass(frozen=True, slots=True)
class KeywordSet:
    """Keywords, phrases and grammar; sets from configuration are merged into the defaults."""

    opt_out: frozenset[str] = frozenset(DEFAULT_OPT_OUT)
    opt_in: frozenset[str] = frozenset(DEFAULT_OPT_IN)
    help: frozenset[str] = frozenset(DEFAULT_HELP)
    phrases: frozenset[str] = frozenset(DEFAULT_PHRASES)
    patterns: tuple[Pattern, ...] = en.PATTERNS
    review: frozenset[str] = frozenset(DEFAULT_REVIEW)  # opt-out words that send a longer message to review
    courtesy: frozenset[str] = frozenset(en.PACK.courtesy)
    negations: frozenset[str] = NEGATIONS
    near: frozenset[str] | None = None  # opt-out words whose typos are reviewed (None: every opt-out word)
    language: Mapping[str, str] = field(default_factory=dict)  # normalized word or phrase -> pack to answer in

    def digest(self) -> str:
        """An identifier of these word lists (a hash of everything that classifies), so that the
        evidence can tell replies classified by different lists apart."""
        parts = [",".join(sorted(words)) for words in (self.opt_out, self.opt_in, self.help, self.phrases,
                                                        self.review, self.courtesy, self.negations, self.near or ())]
        parts += [f"{p.lang}:{p.name}:{p.regex}:{p.qualifiers}" for p in self.patterns]
        parts += [f"{k}={v}" for k, v in sorted(self.language.items())]
        return "kw-" + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]

    def merged(self, opt_out: Iterable[str] = (), opt_in: Iterable[str] = (), help: Iterable[str] = (),
               phrases: Iterable[str] = ()) -> KeywordSet:
        added = frozenset(opt_out)
        return replace(
            self,
            opt_out=self.opt_out | added,
            opt_in=self.opt_in | frozenset(opt_in),
            help=self.help | frozenset(help),
            phrases=self.phrases | frozenset(phrases),
            review=self.review | added,
            near=None if self.near is None else self.near | added,
        )

    @classmethod
    def of_packs(cls, here: Sequence[Pack], everywhere: Iterable[Pack] = PACKS.values()) -> KeywordSet:
        """Every pack's whole-message keywords and courtesy words; the rest from the reply's packs
        (``here``, its own first)."""
        return _of_packs(tuple(here), tuple(everywhere))

    def conflicts(self) -> list[str]:
        """Keywords that would mean two intents at once (a configuration error)."""
        by_key: dict[str, set[str]] = {}
        for name, group in (("opt_out", self.opt_out), ("opt_in", self.opt_in), ("help", self.help)):
            for keyword in group:
                by_key.setdefault(keyword_key(keyword), set()).add(name)
        return sorted(f"{key!r} is in {' and '.join(sorted(names))}" for key, names in by_key.items() if len(names) > 1)


@lru_cache(maxsize=256)  # keyed by packs: a handful of combinations
def _of_packs(here: tuple[Pack, ...], everywhere: tuple[Pack, ...]) -> KeywordSet:
    return KeywordSet(
        opt_out=frozenset(w for p in everywhere for w in p.opt_out) | {w for p in here for w in p.local_opt_out},
        opt_in=frozenset(w for p in everywhere for w in p.opt_in),
        help=frozenset(w for p in everywhere for w in p.help),
        phrases=frozenset(w for p in here for w in p.phrases),
        patterns=tuple(pattern for p in here for pattern in p.patterns),
        review=frozenset(w for p in here for w in (*p.review, *p.review_alone)),
        courtesy=frozenset(w for p in everywhere for w in p.courtesy),
        negations=frozenset(w for p in here for w in p.negations),
        near=frozenset(w for p in here for w in (*p.opt_out, *p.local_opt_out)),
        language=MappingProxyType(_languages(here, everywhere)),  # shared by the cached sets: read-only
    )


def _pack_words(pack: Pack) -> set[str]:
    keys = {keyword_key(w) for w in (*pack.opt_out, *pack.local_opt_out, *pack.opt_in, *pack.help)}
    return keys | {" ".join(words(p)) for p in pack.phrases}


def _languages(here: Sequence[Pack], everywhere: Sequence[Pack]) -> dict[str, str]:
    """Which pack's texts answer a word: the reply's own pack if it has the word, else English
    (the reply's texts) if English has it, else the other pack that has it (ARRET: French)."""
    primary = here[0].code if here and here[0].code != BASE else None
    order = [p for p in here if p.code != BASE] + [p for p in everywhere if p not in here and p.code != BASE]
    language: dict[str, str] = {}
    for pack in reversed(order):  # the first in order wins
        language.update(dict.fromkeys(_pack_words(pack), pack.code))
    base = next((p for p in everywhere if p.code == BASE), None)
    for word in _pack_words(base) if base else ():
        if language.get(word) != primary:
            language.pop(word, None)
    return language


@dataclass(frozen=True, slots=True)
class Classification:
    intent: Intent
    matched: str | None = None
    rule: Rule | None = None
    locale: str | None = None  # the pack whose texts answer it; None: the reply's own locale

    def to_json(self) -> dict[str, str | None]:
        return {"intent": self.intent.value, "matched": self.matched, "rule": self.rule.value if self.rule else None}


NOTHING = Classification(Intent.NONE)


@dataclass(slots=True)
class Classifier:
    keywords: KeywordSet = field(default_factory=KeywordSet)
    _exact: dict[str, Intent] = field(init=False)
    _stretched: dict[str, list[str]] = field(init=False)  # collapsed opt-out keyword -> keywords
    _patterns: list[tuple[re.Pattern[str], re.Pattern[str] | None, str | None]] = field(init=False)
    _triggers: dict[str, list[int]] = field(init=False)  # word -> the patterns that need it
    _phrases: dict[str, list[tuple[str, ...]]] = field(init=False)
    _review: dict[str, list[tuple[str, ...]]] = field(init=False)
    _review_alone: frozenset[str] = field(init=False)  # review words that count only as the whole message
    _courtesy: dict[str, list[tuple[str, ...]]] = field(init=False)
    _near: dict[str, set[str]] = field(init=False)
    _near_longest: int = field(init=False)

    def __post_init__(self) -> None:
        kw = self.keywords
        conflicts = kw.conflicts()
        if conflicts:
            raise ValueError("conflicting keywords: " + "; ".join(conflicts))
        self._exact = {}
        for group, intent in ((kw.opt_out, Intent.OPT_OUT), (kw.opt_in, Intent.OPT_IN), (kw.help, Intent.HELP)):
            for keyword in group:
                key = keyword_key(keyword)
                if key:
                    self._exact[key] = intent
        out_keys = {keyword_key(k) for k in kw.opt_out} - {""}
        self._stretched = {}
        for key in sorted(out_keys, key=len):
            self._stretched.setdefault(collapse(key), []).append(key)
        self._patterns = [(_compile(p.regex), _compile(p.qualifiers) if p.qualifiers else None,
                           None if p.lang == BASE else p.lang) for p in kw.patterns]
        self._triggers = {}
        for index, pattern in enumerate(kw.patterns):
            for word in pattern.triggers:
                self._triggers.setdefault(word, []).append(index)
        self._phrases = _by_first_word(kw.phrases)
        self._review = _by_first_word(w for w in kw.review if keyword_key(w) not in REVIEW_ALONE)
        self._review_alone = frozenset(keyword_key(w) for w in kw.review) & REVIEW_ALONE
        self._courtesy = _by_first_word(kw.courtesy)
        near = out_keys if kw.near is None else {keyword_key(k) for k in kw.near} & out_keys
        self._near = {}
        self._near_longest = max(map(len, near), default=0)
        for key in near:
            if len(key) >= TYPO_MIN_LENGTH:
                for variant in (key, *_deletions(key)):
                    self._near.setdefault(variant, set()).add(key)

    def classify(self, body: str) -> Classification:
        tokens = words(body)
        if not tokens:
            return NOTHING
        joined = "".join(tokens)
        intent = self._exact.get(joined)
        if intent is not None:
            return self._found(intent, joined, Rule.KEYWORD)
        core = self._core(tokens)
        if core:
            found = self._keyword(core, core != tokens) or self._grammar(core, tokens)
            if found is not None:
                return found
        found_in = tokens
        at, phrase = _find(tokens, self._phrases)
        if not phrase and core and core != tokens:  # "lasst mich endlich in Ruhe": emphasis inside the phrase
            found_in = core
            at, phrase = _find(core, self._phrases)
        if phrase:
            rule = Rule.NEGATED_PHRASE if at > 0 and found_in[at - 1] in self.keywords.negations else Rule.PHRASE
            return self._found(Intent.REVIEW if rule is Rule.NEGATED_PHRASE else Intent.OPT_OUT, " ".join(phrase),
                               rule)
        alone = "".join(core)
        if alone in self._review_alone:  # "TD", "td please": a person decides
            return Classification(Intent.REVIEW, alone, Rule.EMBEDDED_KEYWORD)
        _, keyword = _find(tokens, self._review)
        if keyword:
            return Classification(Intent.REVIEW, " ".join(keyword), Rule.EMBEDDED_KEYWORD)
        return self._typo(core or tokens) or NOTHING

    # ------------------------------------------------------------ tiers

    def _found(self, intent: Intent, matched: str, rule: Rule, locale: str | None = None) -> Classification:
        return Classification(intent, matched, rule, locale or self.keywords.language.get(matched))

    def _core(self, tokens: tuple[str, ...]) -> tuple[str, ...]:
        """The words without courtesy or emphasis: 'please stop stop it now' -> ('stop',)."""
        out: list[str] = []
        i, n = 0, len(tokens)
        # stretched courtesy ("pleeease", "nowww") only matters in short messages: one collapse for all words
        stretched = collapse(" ".join(tokens)).split(" ") if n <= _SHORT else tokens
        while i < n:
            token = tokens[i]
            skip = 0
            for phrase in self._courtesy.get(token, ()):
                if tokens[i:i + len(phrase)] == phrase:
                    skip = len(phrase)
                    break
            if not skip and stretched[i] != token and (stretched[i],) in self._courtesy.get(stretched[i], ()):
                skip = 1
            if skip:
                i += skip
                continue
            if not out or out[-1] != token:  # "stop stop stop"
                out.append(token)
            i += 1
        return tuple(out)

    def _keyword(self, core: tuple[str, ...], changed: bool) -> Classification | None:
        joined = "".join(core)
        if changed:
            intent = self._exact.get(joined)
            if intent is not None:
                return self._found(intent, joined, Rule.KEYWORD)
        keys = self._stretched.get(collapse(joined))
        if keys and not any(t in DICTIONARY_WORDS for t in core):
            for key in keys:
                if stretches(joined, key):
                    return self._found(Intent.OPT_OUT, key, Rule.KEYWORD)
        return None

    def _grammar(self, core: tuple[str, ...], tokens: tuple[str, ...]) -> Classification | None:
        # a pattern runs only when the message holds one of its trigger words: most replies hold none
        candidates = {i for word in core for i in self._triggers.get(word, ())}
        if not candidates:
            return None
        text = " ".join(core)
        for index in sorted(candidates):
            regex, qualifiers, lang = self._patterns[index]
            match = regex.search(text)
            if match is None:
                continue
            matched = match.group(0).strip()
            negations = self.keywords.negations
            before = text[:match.start()].split()
            # "please don't remove me" is reviewed; "No, don't text me" is not a double negative
            if before and before[-1] in negations and negations.isdisjoint(matched.split(" ", 2)[:2]):
                return Classification(Intent.REVIEW, matched, Rule.NEGATED_PHRASE, lang)
            if qualifiers is not None and _qualified(qualifiers, matched, text, match.end(), tokens):
                return Classification(Intent.REVIEW, matched, Rule.QUALIFIED_PHRASE, lang)
            return Classification(Intent.OPT_OUT, matched, Rule.PHRASE, lang)
        return None

    def _typo(self, tokens: tuple[str, ...]) -> Classification | None:
        if not 1 <= len(tokens) <= 2 or not self._near:
            return None
        candidates = list(tokens)
        if len(tokens) == 2 and not any(t in self._exact for t in tokens):
            candidates.append("".join(tokens))  # "opt otu"
        for word in candidates:
            if word in DICTIONARY_WORDS or word in self._exact:
                continue
            for variant in dict.fromkeys((word, collapse(word))):
                if variant in DICTIONARY_WORDS or not TYPO_MIN_LENGTH - 1 <= len(variant) <= self._near_longest + 1:
                    break
                found = sorted(k for v in (variant, *_deletions(variant)) for k in self._near.get(v, ())
                               if edit_distance_is_one(variant, k))
                if found:
                    return Classification(Intent.REVIEW, found[0], Rule.TYPO)
        return None


def _qualified(qualifiers: re.Pattern[str], matched: str, core_text: str, end: int, tokens: tuple[str, ...]) -> bool:
    """Whether what follows the match restricts it: looked for in the message as written too, where
    courtesy words are still there ("don't text me now" is "not now", "stop it now" is emphasis)."""
    if qualifiers.match(core_text, end):
        return True
    text = " ".join(tokens)
    at = text.find(matched)
    return at >= 0 and qualifiers.match(text, at + len(matched)) is not None


_compiled: dict[str, re.Pattern[str]] = {}


def _compile(regex: str) -> re.Pattern[str]:
    pattern = _compiled.get(regex)
    if pattern is None:
        pattern = _compiled[regex] = re.compile(regex)
    return pattern


def _by_first_word(phrases: Iterable[str]) -> dict[str, list[tuple[str, ...]]]:
    """Normalized phrases by their first word, longest first."""
    index: dict[str, list[tuple[str, ...]]] = {}
    for phrase in sorted({words(p) for p in phrases} - {()}, key=len, reverse=True):
        index.setdefault(phrase[0], []).append(phrase)
    return index


def _find(tokens: tuple[str, ...], index: dict[str, list[tuple[str, ...]]]) -> tuple[int, tuple[str, ...]]:
    """The leftmost (longest there) phrase of ``index`` found as consecutive whole words, and where."""
    for i, token in enumerate(tokens):
        for phrase in index.get(token, ()):
            if tokens[i:i + len(phrase)] == phrase:
                return i, phrase
    return -1, ()
