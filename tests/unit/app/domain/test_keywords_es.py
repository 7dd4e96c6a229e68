"""Spanish: required (Twilio: ALTO/AYUDA on Spanish programs) and in the default locales."""

import pytest

from tests.unit.app.domain.test_keywords_packs import HELP, IN, NONE, NOT_OUT, OUT, REVIEW, check, ids, pack_cases

CASES = pack_cases("es") + [
    # issue 9: these answered none
    ("ALTO", OUT), ("PARAR", OUT), ("BASTA", OUT), ("CANCELAR", OUT), ("BAJA", OUT), ("darme de baja", OUT),
    ("no más", OUT), ("AYUDA", HELP),
    # courtesy and emphasis
    ("ALTO por favor", OUT), ("Por favor, alto", OUT), ("¡Basta ya!", OUT), ("baja gracias", OUT),
    ("No más, gracias", OUT), ("ALTO ALTO", OUT), ("altoooo", OUT), ("bajaaa", OUT), ("porfa alto", OUT),
    ("ayuda por favor", HELP), ("COMENZAR", IN),
    # plain requests
    ("No me escriban más", OUT), ("No me manden más mensajes por favor", OUT), ("quiero darme de baja", OUT),
    ("Ya no quiero recibir sus mensajes", OUT), ("Bórrenme de su lista", OUT), ("borren mi número por favor", OUT),
    ("dejen de enviarme mensajes", OUT), ("déjenme en paz", OUT), ("no más mensajes", OUT),
    ("Sáquenme de esta lista", OUT), ("No me contacten nunca más", OUT),
    # a person decides
    ("quiero cancelar mi cita", REVIEW), ("no quiero darme de baja", REVIEW), ("no me llames ahora", REVIEW),
    ("no me escriban después de las 9", REVIEW), ("ATLO", REVIEW), ("cancelr", REVIEW), ("PRAAR", REVIEW),
    # must not opt out
    ("el volumen está muy alto", NONE), ("la planta baja", NONE), ("basta con llamar", NONE), ("para mañana", NONE),
    ("nos vemos el fin de semana", NONE), ("¿a qué hora abren?", NONE), ("no más de 5 minutos", NONE),
    ("sácame de la lista de espera", NOT_OUT), ("quiten mi número de la lista de espera", NOT_OUT), ("sí", NONE),
    ("alta", NONE), ("bajo", NONE), ("salto", NONE), ("vale, gracias", NONE), ("no, gracias", NONE),
    ("no me interesa", NONE), ("no quiero perderme sus mensajes", NONE), ("no me envíes el recibo todavía", NONE),
    ("cambié mi número", NONE), ("Gracias!", NONE), ("hola", NONE), ("perfecto", NONE),
]


def test_the_spanish_suite_is_big_enough():
    assert len(CASES) >= 150, len(CASES)


@pytest.mark.parametrize(("body", "expected"), CASES, ids=ids(CASES))
@pytest.mark.parametrize("locale", ["es", "es-MX", None])  # None: the default locales "en,es"
def test_spanish(locale, body, expected):
    check(locale, body, expected)
