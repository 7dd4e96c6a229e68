"""The locale packs together: where each kind of word applies, answers in the writer's language,
the grammar's examples, purity. Helpers here are shared by the per-language suites."""

import ast
import re
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.keywords import Classifier, Intent, KeywordSet, Rule, keyword_key, words
from app.domain.locales import PACKS, Pack
from app.domain.policy import Policy, Profile

OUT, IN, HELP, REVIEW, NONE = Intent.OPT_OUT, Intent.OPT_IN, Intent.HELP, Intent.REVIEW, Intent.NONE
NOT_OUT = "not opt_out"  # a sentence that must never opt anyone out (review or none)
LOCALES = [None, *PACKS, "zz-ZZ"]
LOCALES_DIR = Path(__file__).resolve().parents[4] / "app" / "domain" / "locales"


@cache
def classifier_for(locale: str | None) -> Classifier:
    """The classifier of a reply with this locale under the built-in policy (None: default locales)."""
    return Policy().for_reply("test", locale).classifier


def check(locale: str | None, body: str, expected: Intent | str) -> None:
    found = classifier_for(locale).classify(body)
    if expected == NOT_OUT:
        assert found.intent is not OUT, (body, found)
    else:
        assert found.intent is expected, (body, found)


def spellings(word: str) -> list[str]:
    return [word, word.upper(), word.title(), f"{word}!", f"{word.upper()}.", f"🛑 {word} 🛑"]


def pack_cases(code: str) -> list[tuple[str, Intent | str]]:
    """Every word, phrase and grammar example of a pack, with courtesy and emphasis around keywords."""
    pack = PACKS[code]
    cases: list[tuple[str, Intent | str]] = []
    for word in (*pack.opt_out, *pack.local_opt_out):
        cases += [(s, OUT) for s in spellings(word)]
    for word in pack.opt_in:
        cases += [(word, IN), (word.upper(), IN)]
    for word in pack.help:
        cases += [(word, HELP), (f"{word.upper()}?", HELP)]
    for phrase in pack.phrases:
        cases += [(phrase, OUT), (f"{phrase.capitalize()}!", OUT)]
    keyword = pack.opt_out[0]
    for courtesy in pack.courtesy:
        cases += [(f"{keyword} {courtesy}", OUT), (f"{courtesy.capitalize()}, {keyword.upper()}!", OUT)]
    for pattern in pack.patterns:
        cases += [(example, OUT) for example in pattern.matches]
        cases += [(example, NOT_OUT) for example in pattern.never]
    return cases


def ids(cases: list) -> list[str]:
    return [f"{i}:{body[:28]!r}" for i, (body, _) in enumerate(cases)]


# ------------------------------------------------------------------ the packs themselves

@pytest.mark.parametrize("code", list(PACKS))
def test_every_pack_is_complete(code):
    pack = PACKS[code]
    assert isinstance(pack, Pack) and pack.code == code
    assert pack.opt_out and pack.opt_in and pack.help and pack.patterns and pack.courtesy and pack.sources
    for text in (pack.opt_out_confirmation, pack.opt_in_confirmation, pack.help_text):
        assert 0 < len(text) <= 480  # the configuration file's limit
    assert "START" in pack.opt_out_confirmation  # how to come back, in every language
    for pattern in pack.patterns:
        assert pattern.lang == code and len(pattern.matches) >= 2 and pattern.never, pattern.name
        re.compile(pattern.regex)


def test_no_word_means_two_intents_in_any_locale():
    assert KeywordSet.of_packs(list(PACKS.values())).conflicts() == []
    Policy().validate()


def test_pattern_triggers_cover_every_example():
    """A pattern runs only when the message holds one of its trigger words: every example that the
    regex matches must hold one (else the shortcut would hide a match)."""
    classifier = classifier_for("en")
    for pack in PACKS.values():
        for pattern in pack.patterns:
            regex = re.compile(pattern.regex)
            for example in (*pattern.matches, *pattern.never):
                core = classifier._core(words(example))
                if regex.search(" ".join(core)):
                    assert set(pattern.triggers) & set(core), (pattern.name, example)


@pytest.mark.parametrize("locale", LOCALES)
def test_whole_message_keywords_of_every_pack_apply_to_every_reply(locale):
    for pack in PACKS.values():
        for group, intent in ((pack.opt_out, OUT), (pack.opt_in, IN), (pack.help, HELP)):
            for word in group:
                assert classifier_for(locale).classify(word).intent is intent, (locale, word)


def test_local_keywords_apply_to_their_locales_only():
    for word, homes in [("fine", {"it"}), ("fin", {"es", "fr"}), ("para", {"es", "pt"}), ("pare", {"es", "pt"}),
                        ("no más", {"es"})]:
        for locale in PACKS:
            found = classifier_for(locale).classify(word)
            assert (found.intent is OUT) is (locale in homes), (word, locale, found)  # Italian "fin": a typo
    # the default locales ("en,es") hold Spanish
    assert classifier_for(None).classify("para").intent is OUT
    assert classifier_for(None).classify("Fine").intent is NONE


def test_phrases_and_grammar_apply_to_their_locales_only():
    for body, home in [("no me escriban más", "es"), ("me tira dessa lista", "pt"), ("lass mich in Ruhe", "de"),
                       ("non scrivetemi più", "it"), ("ne m'envoyez plus de SMS", "fr")]:
        assert classifier_for(home).classify(body).intent is OUT
        for other in set(PACKS) - {home}:
            assert classifier_for(other).classify(body).intent is not OUT, (body, other)
    for locale in LOCALES:  # English always applies
        assert classifier_for(locale).classify("please stop texting me").intent is OUT
        assert classifier_for(locale).classify("lose my number").intent is OUT


def test_excluded_words_are_not_keywords():
    for locale in LOCALES:
        for body in ("no", "No.", "si", "sí", "oui", "ja", "sim", "alta", "join", "go", "resume"):
            assert classifier_for(locale).classify(body).intent is NONE, (locale, body)
        # TD (AWS's list) is not an opt-out either, but alone a person decides (issue 23: it was none)
        assert classifier_for(locale).classify("TD").intent is REVIEW, locale


def test_everyday_words_of_a_pack_do_not_send_sentences_to_review():
    for locale, body in [("es", "el volumen está muy alto"), ("es", "la planta baja"), ("es", "basta con llamar"),
                         ("es", "para mañana"), ("es", "nos vemos el fin de semana"), ("pt", "vou sair agora"),
                         ("de", "ist halt so"), ("de", "Ende der Woche"), ("it", "basta così"),
                         ("it", "esci stasera?"), ("fr", "arrête de rire"), (None, "I live in Palo Alto"),
                         (None, "Baja Blast is back")]:
        assert classifier_for(locale).classify(body).intent is NONE, (locale, body)


def test_a_regional_locale_uses_its_language_pack():
    policy = Policy()
    for locale in ("es-MX", "ES_us", "es"):
        reply = policy.for_reply("x", locale)
        assert reply.locale == "es" and reply.locales == ("es", "en")
        assert reply.classifier.classify("no me escriban").intent is OUT
    assert policy.for_reply("x", "pt-BR").classifier.classify("me tira dessa lista").intent is OUT
    assert policy.for_reply("x", "klingon").locales == ("en", "es")  # unknown: the default locales


# ------------------------------------------------------------------ answering in the writer's language

def test_the_answer_is_in_the_language_of_the_word():
    policy = Policy()
    default = policy.for_reply("x")
    assert default.texts == policy.for_reply("x", "en").texts  # no locale: the first default locale
    for body, phrase in [("ALTO", "Ha cancelado"), ("no más", "Ha cancelado"), ("SAIR", "Sua inscrição"),
                         ("STOPP", "abgemeldet"), ("ANNULLA", "annullato"), ("ARRET", "désabonné"),
                         ("STOP", "You are unsubscribed"), ("HALT", "You are unsubscribed")]:
        found = default.classifier.classify(body)
        assert phrase in default.texts_for(found).opt_out_confirmation, body
    assert "AYUDA" not in default.texts.help and "ALTO" in default.texts_for(default.classifier.classify("AYUDA")).help
    assert "ARRET" in default.texts_for(default.classifier.classify("AIDE")).help  # Canada: AIDE answered in French
    italian = policy.for_reply("x", "it")
    for body in ("STOP", "stop please", "annulla"):
        assert "annullato" in italian.texts_for(italian.classifier.classify(body)).opt_out_confirmation
    assert "Stopp".upper() in policy.for_reply("x", "de").texts.help.upper()


def test_configured_texts_win_over_built_in_ones():
    policy = Policy(default=Profile(help_text="Acme: call 800-555-0100. Reply STOP to stop."),
                    locales={"es": Profile(help_text="Acme: llame al 800-555-0100. Responda ALTO.")},
                    accounts={"vip": Profile(opt_out_confirmation="VIP: you are out.")})
    reply = policy.for_reply("x")
    assert reply.texts_for(reply.classifier.classify("AYUDA")).help.startswith("Acme: llame")
    assert reply.texts_for(reply.classifier.classify("HILFE")).help.startswith("Acme: call")  # no [locales.de]
    assert reply.texts_for(reply.classifier.classify("HELP")).help.startswith("Acme: call")
    vip = policy.for_reply("vip", "fr")
    assert vip.texts_for(vip.classifier.classify("ALTO")).opt_out_confirmation == "VIP: you are out."
    assert vip.texts.opt_in_confirmation.startswith("Vous êtes réabonné")


# ------------------------------------------------------------------ configuration adds, never removes

def test_configuration_adds_to_a_pack():
    policy = Policy(locales={"es": Profile(opt_out=("chao",), phrases=("no me interesa",))})
    spanish = policy.for_reply("x", "es").classifier
    assert spanish.classify("chao").intent is OUT and spanish.classify("no me interesa").intent is OUT
    assert spanish.classify("ALTO").intent is OUT and spanish.classify("no más").intent is OUT
    assert policy.for_reply("x", "fr").classifier.classify("chao").intent is NONE


def test_configuration_cannot_turn_a_pack_word_into_another_intent():
    for profile in (Profile(opt_in=("alto",)), Profile(help=("Stopp",)), Profile(opt_in=("no mas",))):
        with pytest.raises(ValueError, match="conflicting"):
            Policy(locales={"es": profile}).validate()


def test_the_cache_holds_configured_and_installed_locales_only():
    policy = Policy(locales={"es-mx": Profile(opt_out=("chale",))}, accounts={"acme": Profile()})
    for i in range(500):
        for locale in (f"x{i}", f"es-{i}", f"pt_{i}", "ES-MX", None):
            policy.for_reply(f"tenant-{i}", locale)
            policy.for_reply("acme", locale)
    assert policy.for_reply("x", "es-MX").classifier.classify("chale").intent is OUT
    assert policy.for_reply("x", "es-AR").classifier.classify("chale").intent is NONE
    assert len(policy._cache) <= 2 * (len(PACKS) + 1 + 1)


# ------------------------------------------------------------------ purity

def test_the_packs_import_nothing_but_the_standard_library_and_the_domain():
    forbidden = {"faust", "aiokafka", "kafka", "mode", "rocksdict", "pydantic"}
    for path in LOCALES_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"


def test_pack_words_normalize_to_something():
    for pack in PACKS.values():
        for word in (*pack.opt_out, *pack.local_opt_out, *pack.opt_in, *pack.help, *pack.review, *pack.courtesy):
            assert keyword_key(word), (pack.code, word)


def test_rules_of_the_grammar_are_reported():
    reply = classifier_for(None)
    assert reply.classify("don't text me after 9pm").rule is Rule.QUALIFIED_PHRASE
    assert reply.classify("please don't remove me").rule is Rule.NEGATED_PHRASE
    assert reply.classify("lose my number").rule is Rule.PHRASE
    assert reply.classify("Stpo").rule is Rule.TYPO


# ------------------------------------------------------------------ properties

_EVERY_OPT_OUT = sorted({w for p in PACKS.values() for w in p.opt_out})
_EVERY_COURTESY = sorted({w for p in PACKS.values() for w in p.courtesy})


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(LOCALES), st.text(max_size=300))
def test_classification_never_raises_in_any_locale(locale, body):
    assert classifier_for(locale).classify(body).intent in Intent


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(LOCALES), st.sampled_from(_EVERY_OPT_OUT),
       st.lists(st.sampled_from(_EVERY_COURTESY), max_size=3), st.lists(st.sampled_from(_EVERY_COURTESY), max_size=3),
       st.sampled_from(["", "!", "!!!", ".", " 🙏", "…"]))
def test_any_opt_out_keyword_with_courtesy_around_it_opts_out(locale, keyword, before, after, mark):
    body = " ".join([*before, keyword.upper(), *after]) + mark
    found = classifier_for(locale).classify(body)
    assert found.intent is OUT and found.rule is Rule.KEYWORD, (locale, body, found)
