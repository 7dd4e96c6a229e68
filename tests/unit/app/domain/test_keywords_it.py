"""Italian."""

import pytest

from tests.unit.app.domain.test_keywords_packs import HELP, IN, NONE, NOT_OUT, OUT, REVIEW, check, ids, pack_cases

CASES = pack_cases("it") + [
    # issue 9: these answered none
    ("ANNULLA", OUT), ("FERMARE", OUT),
    # courtesy and emphasis
    ("annulla per favore", OUT), ("ANNULLA subito", OUT), ("Basta! Grazie", OUT), ("basta basta", OUT),
    ("annullaaa", OUT), ("STOP grazie", OUT), ("Fine.", OUT), ("aiuto per favore", HELP), ("ISCRIVIMI", IN),
    # plain requests
    ("non voglio più ricevere messaggi", OUT), ("toglietemi dalla lista", OUT), ("non scrivetemi più", OUT),
    ("lasciatemi in pace", OUT), ("cancellate il mio numero", OUT), ("smettetela di scrivermi", OUT),
    ("Non mandatemi più messaggi", OUT), ("basta messaggi", OUT),
    # a person decides
    ("come annulla l'ordine?", REVIEW), ("non chiamatemi adesso", REVIEW), ("anulla", REVIEW), ("annlla", REVIEW),
    ("fermrae", REVIEW),
    # must not opt out
    ("fine settimana", NONE), ("basta così", NONE), ("esci stasera?", NONE), ("alla fine", NONE),
    ("ho cambiato il mio numero", NONE), ("non posso oggi", NONE), ("grazie", NONE), ("sì", NONE),
    ("toglietemi dalla lista d'attesa", NOT_OUT), ("non voglio perdere i vostri messaggi", NONE),
    ("non mandatemi la fattura", NONE), ("toglimi un dubbio", NONE), ("ferma lì", NOT_OUT), ("pasta", NONE),
    ("ciao", NONE), ("va bene", NONE), ("fermo", NONE),
    # issue 23: plain requests that waited for a person, accents typed as apostrophes ("piu'")
    ("Voglio disiscrivermi", OUT), ("Vorrei essere rimosso dalla lista", OUT), ("Vorrei cancellarmi", OUT),
    ("Voglio cancellarmi dalla lista", OUT), ("Annulla iscrizione", OUT), ("Annullare l'iscrizione", OUT),
    ("Cancellazione", OUT), ("Piantatela di scrivermi", OUT), ("Smettetela", OUT), ("smettila!", OUT),
    ("Non voglio essere contattato", OUT), ("Non voglio più essere contattata", OUT), ("non scrivetemi piu'", OUT),
    ("Non voglio piu' ricevere messaggi", OUT), ("fermate i messaggi", OUT), ("bloccate l'invio dei messaggi", OUT),
    ("cancellate i miei dati", OUT), ("non scrivete più a questo numero", OUT),
    # ... and their look-alikes
    ("annullare l'iscrizione al corso", NOT_OUT), ("vorrei essere rimosso dal gruppo calcetto", NOT_OUT),
    ("non voglio essere contattato dopo le 20", REVIEW), ("smettila di ridere", NONE), ("non voglio", NONE),
    ("come bloccare i messaggi sul telefono?", NONE), ("fermate i messaggi della banca", NOT_OUT),
    ("Perché non scrivi un bel libro?", NONE), ("Non disturbate coloro che sono in sosta", NONE),
    ("cancellazioni", NONE),
]


def test_the_italian_suite_is_big_enough():
    assert len(CASES) >= 120, len(CASES)


@pytest.mark.parametrize(("body", "expected"), CASES, ids=ids(CASES))
@pytest.mark.parametrize("locale", ["it", "it-CH"])
def test_italian(locale, body, expected):
    check(locale, body, expected)
