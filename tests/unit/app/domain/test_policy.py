import pytest

from app.domain.keywords import Intent
from app.domain.policy import DEFAULT_OPT_OUT_CONFIRMATION, Policy, Profile


def test_defaults():
    reply = Policy().for_reply("any")
    assert reply.texts.opt_out_confirmation == DEFAULT_OPT_OUT_CONFIRMATION
    assert reply.classifier.classify("stop").intent is Intent.OPT_OUT


def test_levels_add_keywords_and_override_texts():
    policy = Policy(
        default=Profile(opt_out=("halt",), help_text="default help"),
        locales={"fr": Profile(opt_out=("arrete",), help_text="aide fr")},
        accounts={"acme": Profile(opt_in=("go",), locale="fr", opt_out_confirmation="bye from acme")},
    )
    acme = policy.for_reply("acme")  # locale from the account
    assert acme.locale == "fr" and acme.texts.help == "aide fr" and acme.texts.opt_out_confirmation == "bye from acme"
    for word, intent in [("halt", Intent.OPT_OUT), ("arrete", Intent.OPT_OUT), ("go", Intent.OPT_IN),
                         ("stop", Intent.OPT_OUT)]:
        assert acme.classifier.classify(word).intent is intent
    other = policy.for_reply("other")
    assert other.classifier.classify("arrete").intent is Intent.NONE
    assert other.classifier.classify("go").intent is Intent.NONE
    assert other.texts.help == "default help"
    assert policy.for_reply("other", "FR").classifier.classify("arrete").intent is Intent.OPT_OUT


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
