"""Spanish (español): in the default locales, so US senders understand it without configuration."""

from app.domain.locales import Pack, Pattern

_MESSAGES = r"(?:mensajes?|sms|textos?|msjs?|mjs|notificaciones|promociones|publicidad|ofertas|spam)"
_LIST = (r"(?:(?:la|su|sus|tu|tus|esta|estas|vuestra|vuestras|los|sus) )?(?:lista|listas|base de datos|contactos|"
         r"envios|difusion|mensajes|sms)\b(?! de espera)")
_WANT = r"(?:(?:quiero|deseo|quisiera|me quiero|necesito) )?"
_TAKE_ME_OFF = ("sacame", "saquenme", "sacarme", "quitame", "quitenme", "quitarme", "borrame", "borrenme", "borrarme",
                "eliminame", "eliminenme", "eliminarme")
_WHEN = (r" (?:despues|antes|hasta|manana|hoy|esta noche|por la noche|en la noche|durante|entre semana|al trabajo|"
         r"sino|mejor|ahora)\b")  # "no me llames ahora": not now

PATTERNS = (
    Pattern(
        "es", "no me escriban / no me contacten",
        ("no",),
        r"\bno (?:me |nos )?(?:(?:vuelvas?|vuelvan) a )?(?:escriba[ns]?|escribas|escribir|contacte[ns]?|contactes|"
        r"contactar|llame[ns]?|llames|llamar|moleste[ns]?|molestes|molestar|textee[ns]?)\b",
        matches=("no me escriban más", "No me contacten", "por favor no me vuelvan a escribir", "no me molesten"),
        never=("no me escriban después de las 9", "no sé si escribir", "no me llames ahora, estoy manejando"),
        qualifiers=_WHEN,
    ),
    Pattern(
        "es", "no me envíen mensajes",
        ("no",),
        r"\bno (?:me |nos )?(?:envie[ns]?|envies|enviar|mande[ns]?|mandes|mandar)(?:$| mas\b|(?: (?:mas|nada de|"
        rf"sus|tus|esos|estos))* {_MESSAGES}\b| nada\b)",
        matches=("no me manden más mensajes", "no me envíen nada", "No me mandes más", "no me envíes sms"),
        never=("no me envíes el recibo todavía",),
    ),
    Pattern(
        "es", "no quiero (recibir) (más) mensajes",
        ("no",),
        r"\b(?:ya )?no (?:quiero|deseo|necesito)(?: (?:recibir|seguir recibiendo|mas|ningun|ninguna|sus|estos|"
        rf"esos|tus|los|de))* {_MESSAGES}\b|^(?:ya )?no quiero (?:mas|recibir)(?: nada)?$",
        matches=("No quiero recibir más mensajes", "ya no quiero sus mensajes", "no quiero más sms",
                 "ya no quiero más"),
        never=("no quiero perderme sus mensajes", "no quiero que dejen de llegar los mensajes"),
    ),
    Pattern(
        "es", "borren mi número",
        ("mi",),
        r"\b(?:borr|elimin|quit|sac)(?:a|en|ar|e) mi (?:numero|telefono|celular|movil|nombre|contacto|datos)\b"
        r"(?! de (?:la |mi |su )?(?:lista de espera|espera|grupo|cita|reserva))",
        matches=("borren mi número", "Eliminen mi número de su lista", "quiten mi numero por favor",
                 "borrar mi teléfono"),
        never=("quiten mi número de la lista de espera", "cambié mi número"),
    ),
    Pattern(
        "es", "sáquenme de la lista / darme de baja",
        ("baja", *_TAKE_ME_OFF),
        rf"\b{_WANT}(?:{'|'.join(_TAKE_ME_OFF)})(?: de {_LIST}|$)"
        rf"|\b{_WANT}(?:dame|denme|darme|dar|me doy|deme) de baja\b",
        matches=("sáquenme de su lista", "bórrenme", "quiero darme de baja", "denme de baja", "me doy de baja",
                 "eliminarme de la lista"),
        never=("sácame de la lista de espera", "no quiero darme de baja", "quítame la duda"),
    ),
    Pattern(
        "es", "dejen de escribirme / no más",
        ("de", "mas"),
        r"\b(?:deja|dejen|dejar|para|paren|parar|basta) de (?:enviar|mandar|escribir|molestar|contactar|llamar)"
        rf"(?:me|nos)?\b|\bbasta de {_MESSAGES}\b|^no mas$|\bno mas {_MESSAGES}\b",
        matches=("dejen de enviarme mensajes", "para de escribirme", "basta de mensajes", "no más",
                 "No más, gracias", "no más mensajes por favor"),
        never=("no más de 5 minutos", "no dejen de escribirme"),
    ),
)

PACK = Pack(
    code="es",
    language="Spanish",
    opt_out=("alto", "parar", "basta", "cancelar", "baja", "detener", "salir", "desuscribir", "desuscribirme",
             "darme de baja", "dar de baja", "anular"),
    local_opt_out=("para", "pare", "fin", "no más"),
    opt_in=("comenzar", "iniciar", "suscribir", "suscribirme"),
    help=("ayuda",),
    phrases=("déjame en paz", "déjenme en paz", "no me interesan sus mensajes"),
    patterns=PATTERNS,
    review=("cancelar", "desuscribir", "desuscribirme", "darme de baja", "dar de baja"),
    courtesy=("por favor", "porfa", "porfavor", "porfis", "xfa", "xfavor", "pf", "gracias", "muchas gracias",
              "mil gracias", "ya", "ahora", "ahora mismo", "ya mismo", "inmediatamente", "de una vez"),
    negations=("no", "nunca", "jamas", "ni"),
    opt_out_confirmation="Ha cancelado su suscripción y no recibirá más mensajes nuestros. "
                         "Responda START para volver a suscribirse.",
    opt_in_confirmation="Se ha vuelto a suscribir y recibirá mensajes de nuevo. Responda ALTO para cancelar.",
    help_text="Responda ALTO para cancelar su suscripción o START para volver a suscribirse. "
              "Pueden aplicarse tarifas de mensajes y datos.",
    excluded=(
        ("PARA, PARE, FIN, NO MÁS as global keywords", "Spanish and Portuguese \"para\" is also \"for\", \"pare\" "
         "is English and Italian, \"fin\" is English, \"nomás\" is Mexican Spanish for \"just\": they apply to "
         "Spanish replies only"),
        ("ALTO, BAJA, BASTA, PARAR as review words", "everyday words (\"muy alto\", \"planta baja\", \"basta con\"):"
         " a sentence containing one is not sent to a person"),
        ("SI / SÍ, ALTA (opt-in)", "\"sí\" answers any question; ALTA is one letter from ALTO"),
    ),
    sources=(
        "Twilio: Spanish-language short codes must answer ALTO and AYUDA (texts after its samples)",
        "Bird (MessageBird) compliance keywords: detener, ayuda",
        "Sinch opt-out words: detener, salir",
        "SMS platforms' Spanish lists (PARAR, CANCELAR, BAJA; MMA's BAJA); issue 9 and domain.md "
        "(BASTA, CANCELAR, PARAR, \"darme de baja\", \"no más\")",
    ),
)
