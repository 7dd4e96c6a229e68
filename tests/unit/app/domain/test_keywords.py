"""Table-driven matcher suite, plus properties (hypothesis)."""

import unicodedata

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.domain.keywords import (
    DEFAULT_HELP,
    DEFAULT_OPT_IN,
    DEFAULT_OPT_OUT,
    DEFAULT_PHRASES,
    FCC_OPT_OUT,
    Classifier,
    Intent,
    KeywordSet,
    Rule,
    collapse,
    keyword_key,
    normalize_text,
    words,
)

classifier = Classifier()
OUT, IN, HELP, REVIEW, NONE = Intent.OPT_OUT, Intent.OPT_IN, Intent.HELP, Intent.REVIEW, Intent.NONE


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def spellings(word: str) -> list[str]:
    """Several spellings of a keyword that must all classify like the keyword."""
    return [word, word.upper(), word.title(), f"  {word}  ", f"{word}!", f"{word.upper()}.", f"🛑 {word} 🛑",
            f'"{word}"', fullwidth(word.upper())]


CASES: list[tuple[str, Intent]] = [
    # exact keywords, every default, several spellings (generated below, plus these by hand)
    ("STOP", OUT), ("Stop.", OUT), ("STOP!", OUT), ("stop!!!", OUT), ("¡stop!", OUT), ("(stop)", OUT),
    ("stop…", OUT), ("\tSTOP\n", OUT), ("sToP", OUT), ("S T O P", OUT), ("s-t-o-p", OUT),
    ("Opt-out", OUT), ("opt out", OUT), ("OPTOUT", OUT), ("opt  -  out", OUT), ("OPT_OUT", OUT),
    ("Stop all", OUT), ("STOPALL", OUT), ("stop-all", OUT), ("Unsub", OUT), ("REMOVE", OUT), ("Revoke", OUT),
    # French and accents
    ("ARRET", OUT), ("ARRÊT", OUT), ("arrêt", OUT), ("Arrêt.", OUT), ("ARRÈT", OUT), ("NONARRET", IN),
    ("non-arrêt", IN), ("AIDE", HELP), ("aide!", HELP),
    # NFKC look-alikes
    ("ＳＴＯＰ", OUT), ("𝐒𝐓𝐎𝐏", OUT), ("𝓈𝓉𝑜𝓅", OUT), ("Ⓢⓣⓞⓟ", OUT), ("ｓｔａｒｔ", IN), ("ＨＥＬＰ", HELP),
    ("ﬁn", NONE),
    # emoji and decorations
    ("STOP 🛑", OUT), ("🛑🛑 stop 🛑🛑", OUT), ("✋ STOP ✋", OUT), ("stop 😡😡", OUT), ("👍 yes", IN), ("🛑", NONE),
    # opt-in, help
    ("START", IN), ("start!", IN), ("Yes", IN), ("YES.", IN), ("unstop", IN), ("Un-stop", IN),
    ("HELP", HELP), ("help?", HELP), ("Info", HELP), ("INFO.", HELP),
    # phrases
    ("Please stop texting me", OUT), ("stop texting me!!", OUT), ("Remove me", OUT), ("remove me from this list", OUT),
    ("unsubscribe me please", OUT), ("take me off your list", OUT), ("Do not text this number", OUT),
    ("dont text me", OUT), ("Don't text me again", OUT), ("DON’T TEXT ME", OUT), ("please opt me out", OUT),
    ("no more texts", OUT), ("Leave me alone", OUT), ("STOP TEXTING", OUT),
    # negated phrases: a person decides
    ("please don't remove me", REVIEW), ("do not remove me", REVIEW), ("never stop texting me", REVIEW),
    # a keyword with only courtesy or emphasis around it: that keyword (issue 9; these were review before)
    ("stop please", OUT), ("please stop", OUT), ("STOP STOP", OUT),
    # a plain request around the keyword: decided at once (issue 23; "I want to opt out" was review)
    ("I want to opt out", OUT), ("I would like to unsubscribe", OUT), ("I want to opt out now", OUT),
    # keyword as a separate word inside a longer message: review
    ("we have got to STOP this bill", REVIEW),
    ("Stop by at 5", REVIEW), ("I want to opt out of the survey", REVIEW), ("cancel my appointment", REVIEW),
    ("the end", REVIEW), ("I quit smoking", REVIEW), ("unsubscribe from emails", REVIEW), ("stop all of it", REVIEW),
    ("arrêt immédiat", REVIEW),
    # keyword inside another word: never an opt-out
    ("weekend", NONE), ("attend", NONE), ("stopping", NONE), ("stopped", NONE), ("nonstop", NONE), ("ended", NONE),
    ("quitting", NONE), ("cancelled", NONE), ("removed", NONE), ("unstoppable", NONE), ("legend", NONE),
    ("backstop", NONE), ("endless", NONE), ("quite", NONE), ("stops", NONE), ("revoked", NONE), ("endorse", NONE),
    ("the weekend is here", NONE), ("I'll attend the event", NONE), ("stopover in Paris", NONE),
    # yes/start inside other words or sentences: nothing
    ("yesterday", NONE), ("starting", NONE), ("restart", NONE), ("yes I will attend", NONE), ("start time?", NONE),
    ("yess", NONE), ("helpful", NONE), ("information", NONE), ("help me with my order", NONE),
    # nothing at all
    ("", NONE), ("   ", NONE), ("!!!", NONE), ("hello", NONE), ("Thanks!", NONE), ("ok", NONE), ("12345", NONE),
    ("st op", OUT),
]
for _word in DEFAULT_OPT_OUT:
    CASES += [(s, OUT) for s in spellings(_word)]
for _word in DEFAULT_OPT_IN:
    CASES += [(s, IN) for s in spellings(_word)]
for _word in DEFAULT_HELP:
    CASES += [(s, HELP) for s in spellings(_word)]
for _phrase in DEFAULT_PHRASES:
    CASES += [(_phrase, OUT), (f"Please {_phrase.upper()}!", OUT)]


def test_the_suite_is_big_enough():
    assert len(CASES) >= 150, len(CASES)


@pytest.mark.parametrize(("body", "intent"), CASES, ids=[f"{i}:{b[:24]!r}" for i, (b, _) in enumerate(CASES)])
def test_matcher(body, intent):
    assert classifier.classify(body).intent is intent


def test_fcc_words_all_opt_out():
    for word in FCC_OPT_OUT:
        assert classifier.classify(word).intent is OUT, word


@pytest.mark.parametrize(
    ("body", "matched", "rule"),
    [
        ("  Stop!! ", "stop", Rule.KEYWORD),
        ("Opt-Out", "optout", Rule.KEYWORD),
        ("please stop texting me", "stop texting me", Rule.PHRASE),
        ("don't remove me", "remove me", Rule.NEGATED_PHRASE),
        ("Stop by at 5", "stop", Rule.EMBEDDED_KEYWORD),
        ("I want to opt out of the survey", "opt out", Rule.EMBEDDED_KEYWORD),
        ("I want to opt out now", "i want to opt out", Rule.PHRASE),  # issue 23: was embedded_keyword
        ("hello", None, None),
    ],
)
def test_matched_and_rule(body, matched, rule):
    result = classifier.classify(body)
    assert (result.matched, result.rule) == (matched, rule)
    assert set(result.to_json()) == {"intent", "matched", "rule"}


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [("  STOP!  ", "stop"), ("ARRÊT", "arret"), ("ＳＴＯＰ", "stop"), ("opt   out", "opt out"), ("Opt-out", "opt out"),
     ("🛑stop🛑", "stop"), ("", ""), ("Don't", "dont")],
)
def test_normalize_text(raw, normalized):
    assert normalize_text(raw) == normalized


def test_custom_keywords_add_to_the_defaults():
    custom = Classifier(KeywordSet().merged(opt_out=["basta"], opt_in=["vamos"], phrases=["no quiero mensajes"]))
    assert custom.classify("Basta!").intent is OUT
    assert custom.classify("vamos").intent is IN
    assert custom.classify("ya no quiero mensajes").intent is OUT
    assert custom.classify("stop").intent is OUT


def test_conflicting_keywords_are_refused():
    with pytest.raises(ValueError, match="stop"):
        Classifier(KeywordSet().merged(opt_in=["Stop!"]))


# ------------------------------------------------------------------ properties

@settings(max_examples=500, deadline=None)
@given(st.text())
def test_classification_never_raises(body):
    result = classifier.classify(body)
    assert result.intent in Intent


_letters = st.text(alphabet=st.characters(categories=["Ll", "Lu"]), min_size=1, max_size=6)
_single_word_opt_outs = sorted({keyword_key(w) for w in DEFAULT_OPT_OUT})


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(_single_word_opt_outs), _letters, _letters, st.booleans(), st.booleans())
def test_keyword_inside_a_longer_word_never_opts_out(keyword, prefix, suffix, use_prefix, use_suffix):
    assume(use_prefix or use_suffix)
    word = (prefix if use_prefix else "") + keyword + (suffix if use_suffix else "")
    assume(len(words(word)) == 1)  # really one word after normalization
    assume(keyword_key(word) not in {keyword_key(w) for w in DEFAULT_OPT_OUT})  # e.g. "stop"+"all"
    # a keyword stretched by repeating its letters is that keyword (issue 9): "stop"+"p", "arret"+"t"
    assume(collapse(keyword_key(word)) not in {collapse(keyword_key(w)) for w in DEFAULT_OPT_OUT})
    assert classifier.classify(word).intent is not OUT
    assert classifier.classify(f"see you this {word} ok").intent is not OUT


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(DEFAULT_OPT_OUT)), st.text(alphabet=" .,!?-…🛑✋\t\n", max_size=5),
       st.text(alphabet=" .,!?…🛑✋\t\n", max_size=5))
def test_opt_out_keyword_with_any_surrounding_noise_opts_out(keyword, before, after):
    assert classifier.classify(before + keyword + after).intent is OUT


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_normalization_is_idempotent(body):
    once = normalize_text(body)
    assert normalize_text(once) == once
    assert unicodedata.is_normalized("NFKC", once) or not once
