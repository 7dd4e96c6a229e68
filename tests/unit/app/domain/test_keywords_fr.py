"""French: the complete pack (Canada's ARRET/AIDE/INFO, Twilio's ARRETE/ARRETT, France's STOP SMS)."""

import pytest

from tests.unit.app.domain.test_keywords_packs import HELP, IN, NONE, NOT_OUT, OUT, REVIEW, check, ids, pack_cases

CASES = pack_cases("fr") + [
    # issue 9: these answered none
    ("ARRETE", OUT), ("ARRETT", OUT),
    # courtesy and emphasis
    ("ARRÊT svp", OUT), ("Arrête!", OUT), ("arrêt s'il vous plaît", OUT), ("STOP merci", OUT),
    ("stop sms merci", OUT), ("Arrêt, merci beaucoup", OUT), ("arreeeet", OUT), ("ARRET ARRET", OUT),
    ("aide svp", HELP), ("INFO", HELP), ("NONARRET", IN), ("non-arrêt", IN),
    # plain requests
    ("Ne m'envoyez plus de SMS", OUT), ("Je ne veux plus recevoir de messages", OUT),
    ("retirez-moi de votre liste", OUT), ("supprimez mon numéro", OUT), ("arrêtez de m'envoyer des messages", OUT),
    ("laissez-moi tranquille", OUT), ("plus de SMS svp", OUT), ("désabonnez-moi", OUT),
    ("merci de me retirer de la liste", OUT), ("ne plus me contacter", OUT),
    # a person decides
    ("je veux annuler ma commande", REVIEW), ("je ne veux pas me désinscrire", REVIEW),
    ("ne m'écrivez plus après 20h", REVIEW), ("arert", REVIEW), ("desabonnr", REVIEW),
    # must not opt out
    ("arrête de rire", NONE), ("à la fin", NONE), ("je ne veux plus attendre", NONE),
    ("il me faut plus de SMS dans mon forfait", NONE), ("oui", NONE), ("merci", NONE),
    ("retirez-moi de la liste d'attente", NOT_OUT), ("j'ai changé mon numéro", NONE), ("plus tard", NONE),
    ("je ne peux plus attendre", NONE), ("bonjour", NONE), ("d'accord", NONE), ("arête", NONE),
    # issue 23: plain requests that waited for a person, and accents left out or ligatures typed apart
    ("Arrêtez les SMS", OUT), ("arretez les messages svp", OUT), ("Annuler mon abonnement", OUT),
    ("merci d'annuler mon abonnement", OUT), ("Je veux arrêter de recevoir des SMS", OUT),
    ("Je ne veux plus être contacté", OUT), ("je ne veux plus etre contactee", OUT), ("Je ne veux plus rien recevoir", OUT),
    ("cessez d'envoyer des SMS", OUT), ("cessez les envois", OUT), ("stop aux SMS", OUT), ("arrêt des messages", OUT),
    ("je souhaite être retiré de la liste", OUT), ("desabonnez moi", OUT), ("DESINSCRIPTION", OUT),
    # ... and their look-alikes
    ("comment arrêter les notifications ?", NONE), ("arrêtez les SMS de la banque", NOT_OUT),
    ("annuler mon abonnement à la salle de sport", NOT_OUT), ("arrêtez les SMS après 20h", REVIEW),
    ("je ne veux plus rien manger", NONE), ("je ne veux plus être contacté après 20h", REVIEW),
    ("le cœur n'y est plus", NONE),
]


def test_the_french_suite_is_big_enough():
    assert len(CASES) >= 150, len(CASES)


@pytest.mark.parametrize(("body", "expected"), CASES, ids=ids(CASES))
@pytest.mark.parametrize("locale", ["fr", "fr-CA"])
def test_french(locale, body, expected):
    check(locale, body, expected)
