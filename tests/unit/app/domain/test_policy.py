import pytest

from app.domain.keywords import Intent
from app.domain.policy import DEFAULT_OPT_OUT_CONFIRMATION, Policy, Profile


def test_defaults():
    reply = Policy().for_reply("any")
    assert reply.texts.opt_out_confirmation == DEFAULT_OPT_OUT_CONFIRMATION
    assert reply.classifier.classify("stop").intent is Intent.OPT_OUT


def test_levels_add_keywords_and_override_texts():
    # "pouce" (French children's "time out") is in no built-in pack: ARRETE, used here before, is now
    # the French pack's and applies to every reply (issue 9)
    policy = Policy(
        default=Profile(opt_out=("halte",), help_text="default help"),
        locales={"fr": Profile(opt_out=("pouce",), help_text="aide fr")},
        accounts={"acme": Profile(opt_in=("go",), locale="fr", opt_out_confirmation="bye from acme")},
    )
    acme = policy.for_reply("acme")  # locale from the account
    assert acme.locale == "fr" and acme.texts.help == "aide fr" and acme.texts.opt_out_confirmation == "bye from acme"
    for word, intent in [("halte", Intent.OPT_OUT), ("pouce", Intent.OPT_OUT), ("go", Intent.OPT_IN),
                         ("stop", Intent.OPT_OUT)]:
        assert acme.classifier.classify(word).intent is intent
    other = policy.for_reply("other")
    assert other.classifier.classify("pouce").intent is Intent.NONE
    assert other.classifier.classify("go").intent is Intent.NONE
    assert other.texts.help == "default help"
    assert policy.for_reply("other", "FR").classifier.classify("pouce").intent is Intent.OPT_OUT


def test_conflicts_are_rejected():
    policy = Policy(accounts={"acme": Profile(opt_in=("stop",))})
    with pytest.raises(ValueError, match="stop"):
        policy.validate()


def test_the_policy_cache_holds_only_configured_combinations():
    policy = Policy(locales={"fr": Profile(opt_out=("arrete",))}, accounts={"acme": Profile()})
    for i in range(1000):  # accounts and locales come from the replies
        policy.for_reply(f"tenant-{i}", f"x{i}")
        policy.for_reply("acme", f"x{i}")
    policy.for_reply("acme", "FR")
    assert len(policy._cache) <= 3 * 2


def test_default_locales():
    assert Policy().for_reply("x").locales == ("en", "es")
    assert Policy(default_locales="fr, de").for_reply("x").locales == ("fr", "de", "en")
    assert Policy(default_locales=("pt",)).for_reply("x").texts.help.startswith("Responda SAIR")
    assert Policy(default_locales="").for_reply("x").locales == ("en",)
    assert Policy(default_locales="nl", locales={"nl": Profile(opt_out=("afmelden",))}).for_reply(
        "x").classifier.classify("afmelden").intent is Intent.OPT_OUT
    with pytest.raises(ValueError, match="'xx'"):
        Policy(default_locales="en,xx")


def test_a_reply_locale_comes_from_the_record_then_the_account_then_the_defaults():
    policy = Policy(accounts={"acme": Profile(locale="de-CH")})
    assert policy.for_reply("acme").locales == ("de", "en")
    assert policy.for_reply("acme", "it").locales == ("it", "en")
    assert policy.for_reply("other").locales == ("en", "es")
    assert policy.for_reply("other", "<script>").locales == ("en", "es")
    assert policy.resolve("PT_br") == "pt" and policy.resolve(7) is None and policy.resolve("") is None


def test_texts_precedence():
    policy = Policy(default=Profile(help_text="default help"), locales={"fr": Profile(opt_in_confirmation="fr in")},
                    accounts={"acme": Profile(opt_out_confirmation="acme out")})
    french = policy.for_reply("x", "fr").texts
    assert french.help == "default help"  # configured beats built-in
    assert french.opt_in_confirmation == "fr in"
    assert french.opt_out_confirmation.startswith("Vous êtes désabonné")  # built-in French
    assert policy.for_reply("acme", "fr").texts.opt_out_confirmation == "acme out"
    assert policy.for_reply("x", "es").texts.opt_out_confirmation.startswith("Ha cancelado")
