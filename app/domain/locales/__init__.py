"""Built-in locale packs: the words people use to stop, restart and ask for help (pure data).

One module per language (``en``, ``es``, ``pt``, ``de``, ``it``, ``fr``), each holding one
``PACK``. What a pack holds and where it applies:

- ``opt_out`` / ``opt_in`` / ``help``: whole-message keywords, applied to **every** reply
  whatever its locale (a Spanish speaker may write ALTO to an English program);
- ``local_opt_out``: whole-message keywords applied only to replies in this locale, because
  they are ordinary words elsewhere (Italian FINE is English "fine");
- ``phrases`` (consecutive words, anywhere in the message) and ``patterns`` (the grammar):
  only for replies in this locale;
- ``review``: opt-out words that send a longer message to a person (``review``) when they
  appear in it; not the words that are everyday words of the language (Spanish "para");
- ``review_alone``: published opt-out words too ambiguous to decide: the whole message (courtesy
  aside) goes to a person, the word inside a sentence is nothing (AWS's TD, a bank's name);
  configuration can make one an opt-out (``opt_out = ["td"]``);
- ``courtesy``: words that may surround a keyword without changing it ("please", "gracias");
  all packs' courtesy words apply to every reply;
- ``negations``: a phrase right after one of these is reviewed, not applied;
- the three reply texts, in the pack's language;
- ``excluded`` (published words left out, and why) and ``sources`` (where the lists come
  from), for the README and the evidence.

All text is written the way :func:`app.domain.keywords.words` normalizes a message: lower
case, accents folded ("más" is "mas"), apostrophes dropped ("m'envoyez" is "menvoyez"),
every other non-alphanumeric character a single space. Patterns are regular expressions
over that text with courtesy words removed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Pattern:
    """One rule of the grammar, with the examples the tests and the README use."""

    lang: str
    name: str
    triggers: tuple[str, ...]  # a message can match only if it holds one of these words (checked first: fast)
    regex: str
    matches: tuple[str, ...]  # replies it must opt out
    never: tuple[str, ...] = ()  # replies it must not opt out
    qualifiers: str | None = None  # regex: what right after the match makes it a partial request (review)


@dataclass(frozen=True, slots=True)
class Pack:
    code: str
    language: str
    opt_out: tuple[str, ...]
    opt_in: tuple[str, ...]
    help: tuple[str, ...]
    phrases: tuple[str, ...]
    patterns: tuple[Pattern, ...]
    review: tuple[str, ...]
    courtesy: tuple[str, ...]
    negations: tuple[str, ...]
    opt_out_confirmation: str
    opt_in_confirmation: str
    help_text: str
    local_opt_out: tuple[str, ...] = ()
    review_alone: tuple[str, ...] = ()
    excluded: tuple[tuple[str, str], ...] = ()
    sources: tuple[str, ...] = ()


def _load() -> dict[str, Pack]:
    from app.domain.locales import de, en, es, fr, it, pt

    return {m.PACK.code: m.PACK for m in (en, es, pt, de, it, fr)}


PACKS: dict[str, Pack] = _load()
BASE = "en"  # always among a reply's locales: the FCC's words and the English grammar apply to every reply


def base_language(tag: str) -> str:
    """'es-mx' -> 'es' (the pack a regional tag uses)."""
    return tag.split("-", 1)[0]
