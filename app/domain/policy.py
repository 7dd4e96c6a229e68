"""Per-account, per-locale keyword sets and reply texts (pure).

Keywords and phrases only ever *add* to the defaults (no configuration can
remove the FCC's opt-out words); texts override: account > locale > default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.domain.keywords import Classifier, KeywordSet

DEFAULT_OPT_OUT_CONFIRMATION = (
    "You are unsubscribed and will receive no more messages from us. Reply START to resubscribe."
)
DEFAULT_OPT_IN_CONFIRMATION = "You are resubscribed and will receive messages again. Reply STOP to unsubscribe."
DEFAULT_HELP_TEXT = "Reply STOP to unsubscribe or START to resubscribe. Msg & data rates may apply."


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


@dataclass(frozen=True, slots=True)
class ReplyPolicy:
    classifier: Classifier
    texts: Texts
    locale: str | None


@dataclass
class Policy:
    default: Profile = field(default_factory=Profile)
    locales: dict[str, Profile] = field(default_factory=dict)
    accounts: dict[str, Profile] = field(default_factory=dict)
    _cache: dict[tuple[str, str | None], ReplyPolicy] = field(default_factory=dict, init=False, repr=False)

    def for_reply(self, account_id: str, locale: str | None = None) -> ReplyPolicy:
        # both come from the reply: the cache is keyed by what is configured, so that it holds
        # at most (accounts + 1) x (locales + 1) entries whatever a client writes
        account = account_id if account_id in self.accounts else ""
        folded = locale.casefold() if locale is not None else None
        key = (account, folded if folded in self.locales else None)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._build(*key)
        return cached

    def _build(self, account_id: str, locale: str | None) -> ReplyPolicy:
        account = self.accounts.get(account_id)
        if locale is None and account is not None:
            locale = account.locale
        levels = [self.default]
        if locale is not None and locale.casefold() in self.locales:
            levels.append(self.locales[locale.casefold()])
        if account is not None:
            levels.append(account)
        keywords = KeywordSet()
        texts = Texts()
        for level in levels:
            keywords = keywords.merged(level.opt_out, level.opt_in, level.help, level.phrases)
            texts = Texts(
                level.opt_out_confirmation or texts.opt_out_confirmation,
                level.opt_in_confirmation or texts.opt_in_confirmation,
                level.help_text or texts.help,
            )
        return ReplyPolicy(Classifier(keywords), texts, locale)

    def validate(self) -> None:
        """Build every combination once: raises ValueError on conflicting keywords."""
        for account in [None, *self.accounts]:
            for locale in [None, *self.locales]:
                self._build(account or "", locale)
