"""German."""

import pytest

from tests.unit.app.domain.test_keywords_packs import HELP, IN, NONE, NOT_OUT, OUT, REVIEW, check, ids, pack_cases

CASES = pack_cases("de") + [
    # issue 9: these answered none
    ("STOPP", OUT), ("KÜNDIGEN", OUT),
    # courtesy and emphasis
    ("Stopp bitte", OUT), ("bitte STOPP", OUT), ("Stopp! Danke", OUT), ("STOPP STOPP", OUT), ("stoppppp", OUT),
    ("bitte austragen", OUT), ("Abmelden, danke", OUT), ("sofort stopp", OUT),
    ("Hilfe bitte", HELP), ("ANMELDEN", IN), ("Stop", OUT),
    # plain requests
    ("Ich möchte keine SMS mehr", OUT), ("Schreiben Sie mir nicht mehr", OUT), ("keine Werbung mehr", OUT),
    ("lass mich in Ruhe", OUT), ("Nehmen Sie mich von der Liste", OUT), ("löschen Sie meine Nummer", OUT),
    ("schickt mir keine Nachrichten mehr", OUT), ("hört auf mir zu schreiben", OUT),
    # a person decides
    ("Ich will meinen Vertrag kündigen", REVIEW), ("stpop", REVIEW), ("abmleden", REVIEW),
    # umlauts typed as "ue", "oe": the word itself (issue 23: "kuendigen" was reviewed as a typo)
    ("kuendigen", OUT), ("KUENDIGEN", OUT), ("aufhoeren", OUT), ("Kündigung", OUT), ("kuendigung", OUT),
    ("Loeschen Sie meine Nummer", OUT), ("ich moechte keine SMS mehr", OUT), ("Hoert auf mir zu schreiben", OUT),
    ("Ich möchte diese Nachrichten nicht mehr erhalten", OUT), ("bitte nicht mehr belaestigen", OUT),
    ("kündgien", REVIEW), ("kuendgien", REVIEW),
    # plain requests of issue 23
    ("Hört auf", OUT), ("Hören Sie bitte auf", OUT), ("hoer auf", OUT), ("Abmeldung", OUT),
    ("Bitte melden Sie mich ab", OUT), ("meld mich ab", OUT), ("Kein Interesse, bitte austragen", OUT),
    ("falsche Nummer. Stopp", OUT), ("SMS abbestellen", OUT), ("Ich will das nicht mehr", OUT),
    ("lasst mich endlich in Ruhe", OUT), ("Nummer bitte löschen", OUT), ("aus der Liste streichen", OUT),
    ("Ich will nicht mehr angeschrieben werden", OUT), ("schickt mir nichts mehr", OUT),
    ("Keine weiteren SMS", OUT), ("hört auf zu nerven", OUT), ("stoppen Sie diese Nachrichten", OUT),
    # and what still must not
    ("ich will das nicht mehr machen", NOT_OUT), ("Melde mich ab ins Bett", NOT_OUT), ("Anmeldung", NONE),
    ("worauf wartest du?", NONE), ("hierauf", NONE), ("kein Interesse", NONE), ("falsche Nummer", NONE),
    ("SMS abbestellen geht nicht?", NOT_OUT), ("stoppen Sie die Werbung von Firma X", NOT_OUT),
    ("melden Sie mich zum Kurs an", NONE), ("löschen Sie meine Nummer von der Warteliste", NOT_OUT),
    # must not opt out
    ("ist halt so", NONE), ("Ende der Woche", NONE), ("bis morgen", NONE), ("Haltestelle", NONE),
    ("ich möchte keine Nachricht verpassen", NONE), ("ja", NONE), ("Nehmen Sie mich von der Warteliste", NONE),
    ("danke", NONE), ("ich kann heute nicht", NONE), ("ich habe meine Nummer geändert", NONE),
    ("schreib mir morgen", NONE), ("keine SMS bekommen?", NONE), ("quitt", NONE), ("ok danke", NONE),
    ("nimm mich mit", NONE), ("hör auf zu lachen", NONE), ("wann habt ihr offen?", NOT_OUT),
]


def test_the_german_suite_is_big_enough():
    assert len(CASES) >= 120, len(CASES)


@pytest.mark.parametrize(("body", "expected"), CASES, ids=ids(CASES))
@pytest.mark.parametrize("locale", ["de", "de-AT"])
def test_german(locale, body, expected):
    check(locale, body, expected)
