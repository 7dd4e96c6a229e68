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
    # issue 23: the verbs people write (Bird/Sinch's DETENER, BMGTwilioFlex's "detener promociones") and the
    # English grammar's shapes
    ("Detener mensajes", OUT), ("detener los mensajes", OUT), ("detener promociones", OUT), ("Detengan los mensajes", OUT),
    ("Paren los mensajes", OUT), ("cancelen los mensajes", OUT), ("suspendan el envío de mensajes", OUT),
    ("No quiero recibir más", OUT), ("no quiero recibir mas", OUT), ("no quiero que me escriban", OUT),
    ("ya no quiero que me manden mensajes", OUT), ("quiero que me saquen de la lista", OUT),
    ("Dejen de enviar mensajes", OUT), ("dejen de mandar", OUT), ("Quiero desuscribirme", OUT),
    ("Salir de la lista", OUT), ("quiero salir de la lista", OUT), ("Cancelar suscripción", OUT),
    ("Quiero cancelar la suscripción", OUT), ("bájenme de la lista", OUT), ("no me vuelvan a mandar mensajes", OUT),
    ("ya no quiero estar en su lista", OUT), ("quiero dejar de recibir sus mensajes", OUT),
    ("DETENER", OUT), ("detener por favor", OUT),
    # ... and their look-alikes
    ("para los mensajes de mañana", NONE), ("¿cómo detener las notificaciones?", NONE),
    ("paren los mensajes del banco", NOT_OUT), ("cancelar mis mensajes programados", NOT_OUT),
    ("detengan los mensajes después de las 9", REVIEW), ("no quiero que dejen de escribirme", NOT_OUT),
    ("no quiero nada", NONE), ("no quiero recibir el pedido", NONE), ("salir de la lista de espera", NOT_OUT),
    ("cancelar la suscripción a la revista", NOT_OUT), ("quiero darme de baja del gimnasio", NOT_OUT),
    ("quiero dar de baja usuarios antiguos", NOT_OUT), ("¡Ya basta de escribir las paredes con aerosol!", NOT_OUT),
    ("para no molestar a la orquesta", NONE), ("El que tenga hijo varón, no llame a otro ladrón", NONE),
    ("no quiero cancelar la suscripción", REVIEW),
]


def test_the_spanish_suite_is_big_enough():
    assert len(CASES) >= 150, len(CASES)


@pytest.mark.parametrize(("body", "expected"), CASES, ids=ids(CASES))
@pytest.mark.parametrize("locale", ["es", "es-MX", None])  # None: the default locales "en,es"
def test_spanish(locale, body, expected):
    check(locale, body, expected)
