"""Typos and stretched words: review for one edit, opt-out for repeated letters, never for a
dictionary word."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.keywords import (
    TYPO_MIN_LENGTH,
    Classifier,
    Intent,
    Rule,
    collapse,
    edit_distance_is_one,
    keyword_key,
    stretches,
)
from app.domain.locales import PACKS
from app.domain.locales.dictionary import WORDS
from tests.unit.app.domain.test_keywords_packs import classifier_for

OPT_OUT_KEYS = sorted({keyword_key(w) for p in PACKS.values() for w in (*p.opt_out, *p.local_opt_out)})
EVERY_KEY = set(OPT_OUT_KEYS) | {keyword_key(w) for p in PACKS.values() for w in (*p.opt_in, *p.help)}


@pytest.mark.parametrize("body", ["Stpo", "STIP", "sotp", "stp", "st0p", "Stpo please", "stpo now pls", "cancle",
                                  "cancelr", "unsubscibe", "unsubscrbe", "remvoe", "qiut", "revkoe", "opt otu", "optotu",
                                  "stoo", "STPO!!"])
def test_one_edit_from_an_opt_out_keyword_is_reviewed(body):
    found = classifier_for(None).classify(body)
    assert (found.intent, found.rule) == (Intent.REVIEW, Rule.TYPO), (body, found)


@pytest.mark.parametrize("body", ["stopppp", "STOOOOP", "Please stopppp", "sttoopp", "cancelll", "unsubscribeee",
                                  "endd", "ennnd", "ALTOOO", "bajaaa", "quiiiit"])
def test_repeated_letters_are_the_keyword(body):
    found = classifier_for(None).classify(body)
    assert (found.intent, found.rule) == (Intent.OPT_OUT, Rule.KEYWORD), (body, found)


@pytest.mark.parametrize("body", ["step", "shop", "stomp", "stoop", "top", "stops", "atop", "stow", "slop",
                                  "quite", "quiet", "quilt", "suit", "quitt", "also", "salt", "said", "sail", "hair",
                                  "pasta", "bajo", "halo", "ends", "and", "send", "cancer", "removes", "revoked"])
def test_dictionary_words_are_not_typos(body):
    found = classifier_for(None).classify(body)
    assert found.intent is Intent.NONE, (body, found)


def test_the_dictionary_list():
    for word in ("step", "shop", "stomp", "stoop", "quite", "quiet", "also", "pasta", "quitt"):
        assert word in WORDS
    assert not WORDS & EVERY_KEY  # no keyword is exempted from itself
    collapsed = {collapse(k) for k in OPT_OUT_KEYS}
    for word in WORDS:  # every entry is there for a reason: one edit from, or a stretch of, a keyword
        assert word == word.casefold() and word.isalpha(), word
        assert collapse(word) in collapsed or any(edit_distance_is_one(word, k) for k in OPT_OUT_KEYS), word


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(WORDS)))
def test_no_dictionary_word_opts_out_or_is_reviewed_as_a_typo(word):
    for locale in (None, *PACKS):
        found = classifier_for(locale).classify(word)
        assert found.intent is not Intent.OPT_OUT and found.rule is not Rule.TYPO, (locale, word, found)


@pytest.mark.parametrize("body", ["i said stpo", "please stpo texting me", "stpo you idiots"])
def test_three_words_or_more_are_never_typos(body):
    found = classifier_for(None).classify(body)
    assert found.rule is not Rule.TYPO, (body, found)


def test_short_keywords_and_other_intents_have_no_typo_rule():
    classify = classifier_for(None).classify
    assert classify("edn").intent is Intent.NONE  # END has three letters
    assert classify("strat").intent is Intent.NONE  # START is an opt-in: never guessed
    assert classify("hepl").intent is Intent.NONE  # HELP likewise
    assert classify("yse").intent is Intent.NONE


def test_configured_opt_out_words_get_the_typo_rule_too():
    from app.domain.keywords import KeywordSet

    custom = Classifier(KeywordSet().merged(opt_out=["enough"]))
    assert custom.classify("enuogh").rule is Rule.TYPO
    assert custom.classify("enoughhh").intent is Intent.OPT_OUT


def test_a_missing_double_letter_is_a_typo_not_a_stretch():
    italian = classifier_for("it")
    assert italian.classify("annullaaa").intent is Intent.OPT_OUT
    assert italian.classify("anulla").rule is Rule.TYPO
    assert stretches("stopppp", "stop") and stretches("arrrett", "arrett") and not stretches("anulla", "annulla")


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([k for k in OPT_OUT_KEYS if len(k) >= TYPO_MIN_LENGTH and k.isalpha()]),
       st.integers(min_value=0), st.sampled_from("abcdefghijklmnopqrstuvwxyz"), st.sampled_from(["sub", "swap"]))
def test_one_edit_never_opts_out(keyword, where, letter, how):
    i = where % len(keyword)
    if how == "sub":
        word = keyword[:i] + letter + keyword[i + 1:]
    else:
        i = min(i, len(keyword) - 2)
        word = keyword[:i] + keyword[i + 1] + keyword[i] + keyword[i + 2:]
    if word in EVERY_KEY or any(stretches(word, k) for k in OPT_OUT_KEYS):
        return  # another keyword, or the keyword stretched ("stopp")
    for locale in (None, "en"):
        found = classifier_for(locale).classify(word)
        assert found.intent is not Intent.OPT_OUT or found.rule is not Rule.TYPO, (word, found)
        if word not in WORDS and keyword in {keyword_key(w) for w in PACKS["en"].opt_out}:
            assert found.intent is Intent.REVIEW, (keyword, word, found)
