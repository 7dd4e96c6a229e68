"""Per-account, per-locale keyword sets and reply texts (pure).

A reply's locale is its record's ``locale`` ('es-MX' -> 'es', or 'es-mx' when configured), else
its account's, else the default locales (``OPTOUT_DEFAULT_LOCALES``, "en,es"). English always
applies too. Every installed pack's whole-message keywords apply to every reply; its phrases and
grammar only to replies in its locale.

Keywords and phrases only ever *add* to the defaults (no configuration can remove the FCC's
opt-out words; an added opt-out word wins over a built-in review-only one, so ``opt_out = ["td"]``
makes AWS's TD, which alone goes to a person by default, an opt-out); texts override: account >
configured locale > configured default > the built-in texts of the reply's language (a configured
HELP text carries the program's name and contact, which no built-in text can).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from app.domain.keywords import Classification, Classifier, KeywordSet
from app.domain.locales import BASE, PACKS, base_language

_EN = PACKS[BASE]
DEFAULT_OPT_OUT_CONFIRMATION = _EN.opt_out_confirmation
DEFAULT_OPT_IN_CONFIRMATION = _EN.opt_in_confirmation
DEFAULT_HELP_TEXT = _EN.help_text
DEFAULT_LOCALES = "en,es"


@dataclass(frozen=True, slots=True)
class Texts:
    opt_out_confirmation: str = DEFAULT_OPT_OUT_CONFIRMATION
    opt_in_confirmation: str = DEFAULT_OPT_IN_CONFIRMATION
    help: str = DEFAULT_HELP_TEXT


@dataclass(frozen=True, slots=True)
class Profile:
    """One level of configuration: additions to keywords, overrides of texts."""

    opt_out: tuple[str, ...] = ()
    opt_in: tuple[str, ...] = ()
    help: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    opt_out_confirmation: str | None = None
    opt_in_confirmation: str | None = None
    help_text: str | None = None
    locale: str | None = None  # accounts only: the locale of replies that name none


_PACK_TEXTS = {code: Profile(opt_out_confirmation=p.opt_out_confirmation, opt_in_confirmation=p.opt_in_confirmation,
                             help_text=p.help_text) for code, p in PACKS.items() if code != BASE}


@dataclass(frozen=True, slots=True)
class ReplyPolicy:
    classifier: Classifier
    texts: Texts  # in the reply's locale
    locale: str | None  # the reply's (or its account's) locale; None: the default locales
    locales: tuple[str, ...] = (BASE,)  # whose phrases and grammar apply, its own first
    by_language: Mapping[str, Texts] = field(default_factory=dict)
    keywords_id: str = ""  # KeywordSet.digest() of the lists that classify these replies

    def texts_for(self, found: Classification) -> Texts:
        """The texts that answer ``found``: in the language of the word that matched when it is
        another pack's (ARRET is answered in French), else in the reply's locale."""
        if found.locale is None:
            return self.texts
        return self.by_language.get(found.locale, self.texts)


@dataclass
class Policy:
    default: Profile = field(default_factory=Profile)
    locales: dict[str, Profile] = field(default_factory=dict)
    accounts: dict[str, Profile] = field(default_factory=dict)
    default_locales: str | Sequence[str] = DEFAULT_LOCALES
    _cache: dict[tuple[str, str | None], ReplyPolicy] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.locales = {tag.casefold().replace("_", "-"): profile for tag, profile in self.locales.items()}
        names = self.default_locales.split(",") if isinstance(self.default_locales, str) else self.default_locales
        resolved = []
        for name in (n.strip() for n in names):
            if not name:
                continue
            tag = self.resolve(name)
            if tag is None:
                raise ValueError(f"default locale {name!r} is neither installed ({', '.join(PACKS)}) "
                                 f"nor configured ([locales.{name.casefold()}])")
            resolved.append(tag)
        self.default_locales = tuple(dict.fromkeys(resolved))

    def resolve(self, locale: object) -> str | None:
        """The configured or installed locale a client-supplied one stands for, or None. Only
        ever returns one of a finite set of names: the policy cache is keyed by it."""
        if not isinstance(locale, str) or not locale:
            return None
        tag = locale.strip().casefold().replace("_", "-")
        if tag in self.locales:
            return tag
        language = base_language(tag)
        if language in self.locales or language in PACKS:
            return language
        return None

    def for_reply(self, account_id: str, locale: str | None = None) -> ReplyPolicy:
        # both come from the reply: the cache is keyed by what is configured or installed, so that
        # it holds at most (accounts + 1) x (locales + packs + 1) entries whatever a client writes
        key = (account_id if account_id in self.accounts else "", self.resolve(locale))
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._build(*key)
        return cached

    # ------------------------------------------------------------ building

    def _locales_of(self, account_id: str, locale: str | None) -> tuple[str | None, tuple[str, ...]]:
        """The reply's own locale (None: the defaults apply) and all of its locales, own first."""
        account = self.accounts.get(account_id)
        if locale is None and account is not None:
            locale = self.resolve(account.locale)
        own = (locale,) if locale is not None else tuple(self.default_locales)
        return locale, tuple(dict.fromkeys((*own, BASE)))

    def _config_levels(self, tags: Sequence[str]) -> list[Profile]:
        """The configured [locales.*] levels of ``tags`` ('es-mx': [locales.es], then [locales.es-mx])."""
        names = dict.fromkeys(name for tag in tags for name in (base_language(tag), tag))
        return [self.locales[name] for name in names if name in self.locales]

    def keywords(self, account_id: str, locale: str | None) -> KeywordSet:
        _, tags = self._locales_of(account_id, locale)
        here = list(dict.fromkeys(PACKS[lang] for lang in map(base_language, tags) if lang in PACKS))
        keywords = KeywordSet.of_packs(here)
        account = self.accounts.get(account_id)
        for level in [self.default, *self._config_levels(tags), *([account] if account else [])]:
            keywords = keywords.merged(level.opt_out, level.opt_in, level.help, level.phrases)
        return keywords

    def texts(self, account_id: str, tag: str) -> Texts:
        """Texts in the language of ``tag``."""
        account = self.accounts.get(account_id)
        language = base_language(tag)
        levels = [*([_PACK_TEXTS[language]] if language in _PACK_TEXTS else []), self.default,
                  *self._config_levels([tag]), *([account] if account else [])]
        texts = Texts()
        for level in levels:
            texts = Texts(
                level.opt_out_confirmation or texts.opt_out_confirmation,
                level.opt_in_confirmation or texts.opt_in_confirmation,
                level.help_text or texts.help,
            )
        return texts

    def _build(self, account_id: str, locale: str | None) -> ReplyPolicy:
        locale, tags = self._locales_of(account_id, locale)
        own = tags[0]
        by_language = {code: self.texts(account_id, own if base_language(own) == code else code) for code in PACKS}
        keywords = self.keywords(account_id, locale)
        return ReplyPolicy(Classifier(keywords), self.texts(account_id, own), locale, tags, by_language,
                           keywords.digest())

    def validate(self) -> None:
        """Every combination's keywords once: raises ValueError on conflicting keywords."""
        for account in ["", *self.accounts]:
            for locale in [None, *self.locales, *PACKS]:
                conflicts = self.keywords(account, locale).conflicts()
                if conflicts:
                    raise ValueError("conflicting keywords: " + "; ".join(conflicts))
