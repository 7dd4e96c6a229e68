"""Spanish (español): in the default locales, so US senders understand it without configuration."""

from app.domain.locales import Pack, Pattern

_MESSAGES = r"(?:mensajes?|sms|textos?|msjs?|mjs|notificaciones|promociones|publicidad|ofertas|spam)"
_LIST = (r"(?:(?:la|su|sus|tu|tus|esta|estas|vuestra|vuestras|los|sus) )?(?:lista|listas|base de datos|contactos|"
         r"envios|difusion|mensajes|sms)\b(?! de espera)")
_WANT = r"(?:(?:quiero|deseo|quisiera|me quiero|necesito) )?"
_TAKE_ME_OFF = ("sacame", "saquenme", "sacarme", "quitame", "quitenme", "quitarme", "borrame", "borrenme", "borrarme",
                "eliminame", "eliminenme", "eliminarme", "bajame", "bajenme", "bajarme")
_WHEN = (r" (?:despues|antes|hasta|manana|hoy|esta noche|por la noche|en la noche|durante|entre semana|al trabajo|"
         r"sino|mejor|ahora)\b")  # "no me llames ahora": not now

_CONTACT = (r"(?:escriba[ns]?|escribas|escribir|contacte[ns]?|contactes|contactar|llame[ns]?|llames|llamar|"
            r"moleste[ns]?|molestes|molestar|textee[ns]?)")
_SEND = r"(?:envie[ns]?|envies|enviar|mande[ns]?|mandes|mandar)"
# what may follow a verb without "me" for it to still be about this sender's messages ("dejen de enviar",
# "dejen de enviar mensajes"; not "basta de escribir las paredes")
_TO_ME = (r"(?=$| (?:mas|nada|nunca|jamas|a este numero|este numero|(?:mas |sus |tus |los |esos |estos |estas |las )*"
          rf"{_MESSAGES})\b)")
# the verbs of stopping that take the messages as their object ("detengan los mensajes"); not "para", also "for"
_STOP = ("detener", "detengan", "detenga", "deten", "parar", "paren", "pare", "cancelar", "cancelen", "cancele",
         "suspender", "suspendan", "suspenda", "suspende", "frenar", "frenen", "stop", "alto")
# "... de la app", "... del banco": another sender's or thing's messages, a person decides
_NOT_ANOTHER = r"(?! (?:de|del|sobre|para|por) (?!(?:ustedes|usted|ti|su empresa|este numero)\b))"

PATTERNS = (
    Pattern(
        "es", "no me escriban / no me contacten",
        ("no",),
        rf"\bno (?:me |nos )(?:(?:vuelvas?|vuelvan) a )?{_CONTACT}\b"
        rf"|\bno (?:(?:vuelvas?|vuelvan) a )?{_CONTACT}(?=$| (?:mas|nunca|jamas|a este numero|este numero)\b)",
        matches=("no me escriban más", "No me contacten", "por favor no me vuelvan a escribir", "no me molesten",
                 "no escriban más a este número"),
        never=("no me escriban después de las 9", "no sé si escribir", "no me llames ahora, estoy manejando",
               "para no molestar a la orquesta", "no llame a otro ladrón"),
        qualifiers=_WHEN,
    ),
    Pattern(
        "es", "no me envíen mensajes",
        ("no",),
        rf"\bno (?:me |nos )?(?:(?:vuelvas?|vuelvan) a )?{_SEND}(?:$| mas\b|(?: (?:mas|nada de|"
        rf"sus|tus|esos|estos))* {_MESSAGES}\b| nada\b)",
        matches=("no me manden más mensajes", "no me envíen nada", "No me mandes más", "no me envíes sms",
                 "no me vuelvan a mandar nada"),
        never=("no me envíes el recibo todavía",),
    ),
    Pattern(
        "es", "no quiero (recibir) (más) mensajes",
        ("no", "dejar"),
        r"\b(?:ya )?no (?:quiero|deseo|necesito)(?: (?:recibir|seguir recibiendo|mas|ningun|ninguna|sus|estos|"
        rf"esos|tus|los|de))* {_MESSAGES}\b"
        r"|^(?:ya )?no (?:quiero|deseo)(?: (?:seguir )?(?:recibir|recibiendo)(?: (?:mas|nada|nada mas|mas nada))?"
        r"| mas(?: nada)?)$"
        r"|\b(?:ya )?no (?:quiero|deseo) (?:estar|seguir|continuar) en " + _LIST
        + rf"|\b(?:quiero|deseo|quisiera|necesito) dejar de recibir(?: (?:sus|los|estos|esos|tus))* {_MESSAGES}\b",
        matches=("No quiero recibir más mensajes", "ya no quiero sus mensajes", "no quiero más sms",
                 "ya no quiero más", "No quiero recibir más", "no deseo recibir nada", "no quiero seguir recibiendo",
                 "no quiero seguir en su lista", "quiero dejar de recibir sus mensajes"),
        never=("no quiero perderme sus mensajes", "no quiero que dejen de llegar los mensajes", "no quiero nada",
               "no quiero recibir el pedido"),
    ),
    Pattern(
        "es", "no quiero que me escriban",
        ("no", "que", "q"),
        r"\b(?:quiero|deseo|necesito) (?:que|q) me (?:saquen|quiten|borren|eliminen|bajen|den de baja|desuscriban)"
        + rf"(?: de {_LIST}|$)"
        + rf"|\b(?:ya )?no (?:quiero|deseo|necesito) (?:que|q) (?:me |nos )?(?:(?:sigan|vuelvan a) )?(?:{_CONTACT}"
        rf"|{_SEND}{_TO_ME}|sigan (?:escribiendo|mandando|enviando|molestando))\b",
        matches=("no quiero que me escriban", "ya no quiero que me manden mensajes",
                 "no deseo que me sigan escribiendo", "no quiero q me contacten", "quiero que me den de baja"),
        never=("no quiero que me manden el pedido todavía", "no quiero que me escriban después de las 8",
               "no quiero que me manden el recibo"),
        qualifiers=_WHEN,
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
        ("baja", "salir", "salirme", "suscripcion", "desuscribirme", "desuscribir", "desinscribirme", *_TAKE_ME_OFF),
        rf"\b{_WANT}(?:{'|'.join(_TAKE_ME_OFF)})(?: de {_LIST}|$)"
        rf"|\b{_WANT}(?:(?:dame|denme|darme|me doy|deme) de baja|dar de baja(?=$| de | mi (?:numero|telefono|linea)\b))"
        rf"\b(?! (?:de|del) (?!{_LIST}))"
        rf"|\b{_WANT}(?:desuscribirme|desuscribir|desinscribirme)\b(?! (?:de|del) (?!{_LIST}))"
        rf"|\b{_WANT}(?:salir|salirme|irme) de {_LIST}"
        r"|\b(?:quiero |deseo |quisiera |necesito )?(?:cancelar|cancelen|anular|anulen|terminar|dar de baja) "
        rf"(?:la |mi |su |esta )?(?:suscripcion|subscripcion)\b(?! (?:a|al|de|del) (?!(?:{_LIST}|{_MESSAGES}|"
        r"sus|los|estos)\b))",
        matches=("sáquenme de su lista", "bórrenme", "quiero darme de baja", "denme de baja", "me doy de baja",
                 "eliminarme de la lista", "Quiero desuscribirme", "quiero salir de la lista",
                 "Quiero cancelar la suscripción", "cancelar suscripción", "dar de baja mi número"),
        never=("sácame de la lista de espera", "no quiero darme de baja", "quítame la duda",
               "quiero dar de baja usuarios antiguos", "quiero darme de baja del gimnasio",
               "salir de la lista de espera", "cancelar la suscripción a la revista"),
    ),
    Pattern(
        "es", "dejen de escribirme / no más",
        ("de", "mas"),
        r"(?<!no quiero que )(?<!no quiero q )(?<!no deseo que )"
        r"\b(?:deja|dejen|dejar|para|paren|parar|basta) de (?:(?:enviar|mandar|escribir|molestar|contactar|llamar|"
        r"spamear)(?:me|nos)\b|(?:enviar|mandar|escribir|molestar|contactar|llamar|spamear)" + _TO_ME + r")"
        rf"|\bbasta de {_MESSAGES}\b|^no mas$|\bno mas {_MESSAGES}\b",
        matches=("dejen de enviarme mensajes", "para de escribirme", "basta de mensajes", "no más",
                 "No más, gracias", "no más mensajes por favor", "Dejen de enviar mensajes", "dejen de escribir"),
        never=("no más de 5 minutos", "no dejen de escribirme", "¡Ya basta de escribir las paredes con aerosol!",
               "no quiero que dejen de escribirme"),
    ),
    Pattern(
        "es", "detengan los mensajes",
        _STOP,
        rf"(?<!como )(?<!para )\b(?:{'|'.join(_STOP)})(?: (?:el envio de|los envios de|todos los|todas las|los|las|"
        rf"sus|tus|estos|estas|esos|esas|a los|a sus))* {_MESSAGES}\b{_NOT_ANOTHER}",
        matches=("Detener mensajes", "detener los mensajes", "Paren los mensajes", "detener promociones",
                 "cancelen los mensajes", "suspendan el envío de mensajes"),
        never=("¿cómo detener las notificaciones?", "paren los mensajes del banco", "para los mensajes de mañana",
               "cancelar mis mensajes programados", "detengan los mensajes después de las 9"),
        qualifiers=_WHEN,
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
        "Boston-Medical-Group/BMGTwilioFlex's opt-out list (\"darme de baja\", \"detener promociones\")",
        "issue 23: DETENER as a verb (\"detengan los mensajes\"), \"no quiero recibir más\", \"no quiero que me "
        "escriban\", \"dejen de enviar ...\", \"salir de la lista\", \"cancelar la suscripción\"",
    ),
)
