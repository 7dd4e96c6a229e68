"""Issue 23: accents left out in every pack, TD alone to a person (and an opt-out by configuration),
and the dictionary guard kept for the new words."""

import unicodedata

import pytest

from app.domain.keywords import Intent, Rule, keyword_key, normalize_text, words
from app.domain.locales import PACKS
from app.domain.locales.dictionary import WORDS
from app.domain.policy import Policy, Profile
from app.intake.policy_file import load_policy
from tests.unit.app.domain.test_keywords_packs import LOCALES, NONE, OUT, REVIEW, check, classifier_for, pack_cases

# ------------------------------------------------------------------ accents, the way people leave them out


def without_accents(text: str) -> str:
    return unicodedata.normalize("NFC", "".join(c for c in unicodedata.normalize("NFD", text)
                                                if not unicodedata.combining(c)))


def umlauts_spelled(text: str) -> str:
    return text.translate(str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "AE", "Ö": "OE", "Ü": "UE"}))


def _accented(code: str) -> list[tuple[str, Intent | str]]:
    return [(body, expected) for body, expected in pack_cases(code) if without_accents(body) != body]


@pytest.mark.parametrize("code", list(PACKS))
def test_every_example_of_every_pack_classifies_the_same_without_its_accents(code):
    cases = _accented(code)
    assert cases or code == "en", code  # every other pack has accented words or examples
    for body, expected in cases:
        check(code, without_accents(body), expected)
        check(code, without_accents(body).upper(), expected)


def test_german_umlauts_typed_with_an_e_classify_as_the_umlaut():
    cases = [(body, expected) for body, expected in pack_cases("de") if umlauts_spelled(body) != body]
    assert len(cases) >= 15, len(cases)
    for body, expected in cases:
        check("de", umlauts_spelled(body), expected)


@pytest.mark.parametrize(("raw", "normalized"), [
    ("cœur", "coeur"), ("ŒUVRE", "oeuvre"), ("Ærø", "aero"), ("Łódź", "lodz"), ("đi", "di"), ("İPTAL", "iptal"),
    ("ıptal", "iptal"), ("NÃO", "nao"), ("ñ", "n"), ("Straße", "strasse"), ("désinscription", "desinscription"),
])
def test_letters_without_a_decomposition_fold_too(raw, normalized):
    assert normalize_text(raw) == normalized
    assert normalize_text(normalized) == normalized


def test_the_e_spelling_of_umlauts_is_german_only():
    # "oe", "ue" are not folded in general: "does", "queue", "poesia" keep their letters
    assert words("does queue poesia") == ("does", "queue", "poesia")
    assert classifier_for("de").classify("kuendigen").intent is OUT
    assert classifier_for("en").classify("kuendigen").intent is OUT  # a German keyword applies to every reply


# ------------------------------------------------------------------ the dictionary guard, kept


@pytest.mark.parametrize(("locale", "body"), [
    ("de", "Anmeldung"), ("de", "worauf"), ("de", "herauf"), ("de", "hierauf"), ("de", "kuendige"),
    ("pt", "bloqueio"), ("pt", "bloqueei"), ("es", "bloquea"), ("it", "smettere"), ("it", "cancellazioni"),
    ("it", "mettila"), ("pt", "vou sair"), ("it", "sai?"), ("es", "sai"),
])
def test_dictionary_words_near_the_new_keywords_are_not_typos(locale, body):
    found = classifier_for(locale).classify(body)
    assert found.intent is not OUT and found.rule is not Rule.TYPO, (locale, body, found)


def test_the_new_keywords_are_in_no_dictionary_exemption():
    for word in ("sai", "bloqueia", "kuendigen", "abmeldung", "smettila", "cancellazione", "horauf"):
        assert keyword_key(word) not in WORDS, word


@pytest.mark.parametrize(("locale", "body"), [("pt", "bloqeia"), ("de", "abmledung"), ("it", "smetilla")])
def test_typos_of_the_new_keywords_are_reviewed(locale, body):
    found = classifier_for(locale).classify(body)
    assert (found.intent, found.rule) == (Intent.REVIEW, Rule.TYPO), (locale, body, found)


# ------------------------------------------------------------------ TD: AWS's word, a bank's name


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("body", ["TD", "td", "T.D.", "TD!", "td please", "TD, thanks", "TD TD"])
def test_td_alone_goes_to_a_person(locale, body):
    found = classifier_for(locale).classify(body)
    assert (found.intent, found.matched, found.rule) == (Intent.REVIEW, "td", Rule.EMBEDDED_KEYWORD), (body, found)


@pytest.mark.parametrize("body", ["I bank with TD", "TD Bank called me", "what a TD!", "td ameritrade login",
                                  "TDs", "std"])
def test_td_in_a_sentence_or_a_word_is_nothing(body):
    for locale in LOCALES:
        assert classifier_for(locale).classify(body).intent is NONE, (locale, body)


def test_configuration_makes_td_an_opt_out():
    policy = Policy(default=Profile(opt_out=("td",)))
    for locale in LOCALES:
        found = policy.for_reply("acme", locale).classifier.classify("TD")
        assert (found.intent, found.rule) == (Intent.OPT_OUT, Rule.KEYWORD), (locale, found)
        assert policy.for_reply("acme", locale).classifier.classify("I bank with TD").intent is NONE
    assert Policy().for_reply("acme").keywords_id != policy.for_reply("acme").keywords_id  # the evidence tells


def test_configuration_makes_td_an_opt_out_for_one_account_only():
    policy = Policy(accounts={"aws-follower": Profile(opt_out=("TD",))})
    assert policy.for_reply("aws-follower").classifier.classify("td").intent is OUT
    assert policy.for_reply("someone-else").classifier.classify("td").intent is REVIEW


def test_the_documented_file_makes_td_an_opt_out(tmp_path):
    path = tmp_path / "keywords.toml"
    path.write_text('[default]\nopt_out = ["TD"]   # AWS\'s required list: TD opts out\n', encoding="utf-8")
    policy = load_policy(path)
    assert policy.for_reply("acme").classifier.classify("TD").intent is OUT
    assert policy.for_reply("acme", "fr").classifier.classify("td svp").intent is OUT
