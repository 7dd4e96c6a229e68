"""German (Deutsch). "ß" folds to "ss", umlauts to their vowel ("kündigen" is "kundigen"), and the
"e" spelling people type without umlauts ("kuendigen") is accepted everywhere too."""

from app.domain.locales import Pack, Pattern

# Umlauts are typed three ways: "kündigen", "kundigen" (the accent folded, as every pack's) and
# "kuendigen". The regexes below are written with the umlaut and _u() accepts all three; the
# keywords list both spellings (_ue()).
_UMLAUTS = {"ä": "(?:a|ae)", "ö": "(?:o|oe)", "ü": "(?:u|ue)"}


def _u(regex: str) -> str:
    """``regex`` with each umlaut accepting its folded and its "e" spelling."""
    return "".join(_UMLAUTS.get(ch, ch) for ch in regex)


def _ue(*words: str) -> tuple[str, ...]:
    """``words`` and, for those holding an umlaut, their "e" spelling ("kündigen", "kuendigen")."""
    out: list[str] = []
    for word in words:
        out.append(word)
        spelled = word.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
        if spelled != word:
            out.append(spelled)
    return tuple(out)


_MESSAGES = r"(?:sms|nachrichten|nachricht|mitteilungen|texte|werbung|werbe ?sms|newsletter|spam)"
_LIST = (r"(?:der|dem|ihrer|eurer|dieser|deiner|allen|ihren|euren|diesem|ihrem|eurem) (?:liste|listen|verteiler|"
         r"verteilerliste|kartei|datenbank|sms ?liste|kontaktliste|sms verteiler)\b")
# the keywords a person may put after a reason ("kein Interesse, bitte austragen")
_KEYWORD = _u(r"(?:stopp|stop|abmelden|austragen|abbestellen|kündigen|stornieren|aufhören|löschen|entfernen|ende|"
              r"halt|abmeldung|kündigung)")

PATTERNS = (
    Pattern(
        "de", "schreiben Sie mir nicht mehr",
        ("mir", "mich", "uns"),
        r"\b(?:schreib|schreiben sie|schreibt|kontaktier|kontaktieren sie|kontaktiert|ruf|rufen sie|ruft|schick|"
        r"schicken sie|schickt|sende|senden sie|sendet|nerv|nerven sie|nervt) (?:mir|mich|uns) (?:bitte )?"
        rf"(?:nicht mehr|nichts mehr|nie wieder|nie mehr|keine (?:weiteren? )?{_MESSAGES}(?: mehr)?)\b",
        matches=("Schreiben Sie mir nicht mehr", "schick mir keine SMS mehr", "ruf mich nie wieder an",
                 "kontaktieren Sie mich nicht mehr", "schickt mir nichts mehr"),
        never=("schreib mir morgen", "schicken Sie mir keine Rechnung"),
    ),
    Pattern(
        "de", "bitte nicht mehr schreiben",
        ("mehr", "wieder"),
        _u(r"\b(?:nicht mehr|nie wieder|nie mehr) (?:schreiben|kontaktieren|anrufen|simsen|texten|anschreiben|"
           r"belästigen|nerven)\b"),
        matches=("bitte nicht mehr schreiben", "nie wieder kontaktieren!", "nicht mehr belaestigen"),
        never=("ich kann nicht mehr warten",),
    ),
    Pattern(
        "de", "ich möchte keine SMS mehr",
        ("keine", "keinen", "werden"),
        _u(rf"\b(?:ich )?(?:will|möchte|brauche|wünsche) keine (?:weiteren? )?{_MESSAGES}\b(?! (?:\w+ )?verpassen)"
           rf"|\bkeine (?:weiteren? )?{_MESSAGES} mehr\b|^keine weiteren {_MESSAGES}$"
           r"|\b(?:will|möchte|mag) (?:nicht mehr|nie mehr|nie wieder) (?:angeschrieben|kontaktiert|angerufen|"
           r"belästigt|benachrichtigt|angesimst) werden\b"
           rf"|\b(?:will|möchte|mag) (?:(?:von|aus) {_LIST} )?(?:abgemeldet|ausgetragen|entfernt|gelöscht|gestrichen) "
           r"werden\b"),
        matches=("Ich möchte keine SMS mehr", "ich will keine Nachrichten", "keine Werbung mehr bitte",
                 "Ich moechte keine SMS mehr", "keine weiteren Nachrichten", "ich möchte nicht mehr kontaktiert werden",
                 "ich will abgemeldet werden", "ich möchte aus der Liste gestrichen werden"),
        never=("ich möchte keine Nachricht verpassen", "keine SMS bekommen?"),
    ),
    Pattern(
        "de", "ich möchte diese Nachrichten nicht mehr",
        ("mehr",),
        _u(r"\b(?:ich )?(?:will|möchte|mag|brauche|wünsche) (?:(?:diese|die|ihre|eure|deine|solche|ihre ganzen) )?"
           rf"{_MESSAGES} nicht mehr\b(?! (?:\w+ )?verpassen)"
           r"|^(?:ich )?(?:will|möchte|mag) (?:das|sowas|so etwas|es|das alles|das hier) nicht mehr$"
           r"|^(?:ich )?(?:will|möchte|mag) (?:von (?:ihnen|euch|dir) )?nichts mehr(?: von (?:ihnen|euch|dir))?"
           r"(?: (?:bekommen|erhalten|empfangen|haben|hören|lesen))?$"),
        matches=("Ich möchte diese Nachrichten nicht mehr erhalten", "Ich will das nicht mehr",
                 "ich brauche die SMS nicht mehr", "Ich will nichts mehr bekommen", "ich möchte nichts mehr von euch"),
        never=("ich will das nicht mehr machen", "ich möchte die Nachrichten nicht mehr verpassen",
               "ich will nichts mehr essen"),
    ),
    Pattern(
        "de", "löschen Sie meine Nummer",
        ("meine", "nummer", "handynummer", "telefonnummer", "daten", "kontaktdaten"),
        _u(r"\b(?:lösch|lösche|löschen sie|löscht|entfern|entferne|entfernen sie|entfernt|streich|streiche|"
           r"streichen sie) (?:bitte )?meine (?:nummer|handynummer|telefonnummer|daten|kontaktdaten)\b"
           r"(?! (?:von|aus) der warteliste)"
           r"|^(?:meine |die )?(?:nummer|handynummer|telefonnummer|daten|kontaktdaten) (?:bitte )?(?:löschen|entfernen|"
           r"austragen|sperren)$"),
        matches=("lösch meine Nummer", "Entfernen Sie bitte meine Telefonnummer", "löschen Sie meine Daten",
                 "Loeschen Sie meine Daten", "meine Nummer bitte löschen"),
        never=("ich habe meine Nummer geändert", "löschen Sie meine Nummer von der Warteliste"),
    ),
    Pattern(
        "de", "nehmen Sie mich von der Liste",
        ("mich", "aus", "von"),
        _u(r"\b(?:nimm|nehmen sie|nehmt|streich|streiche|streichen sie|streicht|entfern|entferne|entfernen sie|"
           rf"entfernt|trag|tragen sie|tragt|lösch|löschen sie|löscht) mich (?:bitte )?(?:aus|von) {_LIST}"
           r"|\b(?:trag|tragen sie|tragt) mich (?:bitte )?aus\b"
           rf"|\bmich (?:bitte )?(?:(?:von|aus|bei) (?:{_LIST}|(?:den|diesen|ihren|allen|euren) {_MESSAGES}) )?"
           r"(?:austragen|abmelden|entfernen)\b"
           rf"|\b(?:meld|melde|melden sie|meldet|melden) mich (?:bitte )?(?:(?:von|aus|bei) {_LIST} )?ab\b"
           r"(?! (?:ins|in|zum|zur|nach|bei|für|fürs)\b)"
           rf"|^(?:mich )?(?:bitte )?(?:aus|von) {_LIST} (?:streichen|entfernen|nehmen|austragen|löschen)$"),
        matches=("Nehmen Sie mich von der Liste", "streich mich aus dem Verteiler",
                 "trag mich aus", "bitte mich austragen", "Bitte melden Sie mich ab", "meld mich ab",
                 "aus dem Verteiler streichen", "ich möchte mich von den SMS abmelden"),
        never=("Nehmen Sie mich von der Warteliste", "nimm mich mit", "melden Sie mich zum Kurs an",
               "Melde mich ab ins Bett"),
    ),
    Pattern(
        "de", "hören Sie auf, mir zu schreiben",
        ("auf",),
        _u(r"\b(?:hör|höre|hören sie|hört) (?:bitte )?auf (?:(?:mir|mich|uns) (?:\w+ )?)?(?:zu )?(?:schreiben|schicken|"
           r"senden|kontaktieren|nerven|belästigen|anzuschreiben|simsen)\b"),
        matches=("hört auf mir zu schreiben", "Hören Sie auf, mich zu kontaktieren", "hoert auf mir SMS zu schicken",
                 "hört auf zu nerven"),
        never=("hör auf zu lachen",),
    ),
    Pattern(
        "de", "SMS abbestellen / stoppen Sie die SMS",
        ("abbestellen", "abmelden", "kundigen", "kuendigen", "stoppen", "beenden", "stopp", "stoppt", "beendet"),
        _u(rf"^(?:(?:die|alle|diese|ihre|eure) )?{_MESSAGES} (?:abbestellen|abmelden|kündigen|stoppen|beenden)$"
           r"|\b(?:stopp|stoppe|stoppen sie|stoppt|beenden sie|beendet) (?:bitte )?(?:die|alle|diese|ihre|eure|deine) "
           rf"{_MESSAGES}\b(?! (?:von|vom|über|zu|zum|zur|für)\b(?! (?:ihnen|euch|dir|dieser nummer)\b))"),
        matches=("SMS abbestellen", "Newsletter abbestellen", "stoppen Sie bitte diese Nachrichten"),
        never=("SMS abbestellen geht nicht?", "stoppen Sie die Werbung von Firma X"),
    ),
    Pattern(
        "de", "ein Grund, dann ein Stichwort",
        ("interesse", "nummer", "nein", "angemeldet", "interessiert"),
        _u(r"^(?:(?:ich habe |hab )?kein interesse(?: mehr)?|falsche nummer|nein(?: danke)?|"
           r"(?:ich habe|hab) mich nie angemeldet|ich bin nicht interessiert)"
           rf" {_KEYWORD}$"),
        matches=("Kein Interesse, bitte austragen", "falsche Nummer, stopp", "nein danke, abmelden",
                 "Ich habe kein Interesse, bitte löschen"),
        never=("kein Interesse", "falsche Nummer", "kein Interesse am Ende"),
    ),
)

PACK = Pack(
    code="de",
    language="German",
    # the verbs' nouns (ABMELDUNG, KÜNDIGUNG) and "hör auf" are the same requests
    opt_out=_ue("stopp", "halt", "ende", "abmelden", "abbestellen", "austragen", "kündigen", "stornieren", "aufhören",
                "abmeldung", "kündigung", "hör auf", "hört auf", "hören Sie auf"),
    opt_in=("anmelden",),
    help=("hilfe",),
    phrases=("lass mich in Ruhe", "lassen Sie mich in Ruhe", "lasst mich in Ruhe"),
    patterns=PATTERNS,
    review=_ue("stopp", "abmelden", "abbestellen", "austragen", "kündigen", "stornieren"),
    courtesy=_ue("bitte", "danke", "danke schön", "dankeschön", "vielen Dank", "sofort", "jetzt", "endlich"),
    negations=("nicht", "nie", "niemals", "kein", "keine"),
    opt_out_confirmation="Sie wurden abgemeldet und erhalten keine weiteren Nachrichten von uns. "
                         "Antworten Sie START, um sich wieder anzumelden.",
    opt_in_confirmation="Sie sind wieder angemeldet und erhalten wieder Nachrichten. "
                        "Antworten Sie STOPP, um sich abzumelden.",
    help_text="Antworten Sie STOPP, um sich abzumelden, oder START, um sich wieder anzumelden. "
              "Es können Gebühren für Nachrichten und Daten anfallen.",
    excluded=(
        ("HALT, ENDE as review words", "\"halt\" is a German filler (\"ist halt so\"), \"Ende\" an everyday noun"),
        ("JA (opt-in)", "answers any question"),
    ),
    sources=(
        "ActiveCampaign's German STOP keywords: STOPP, STORNIEREN, ABMELDEN, ABBESTELLEN",
        "Brevo: STOPP code for German-language SMS",
        "Bird (MessageBird) compliance keywords: halt, hilfe",
        "issue 9 and domain.md (STOPP, KÜNDIGEN)",
        "issue 23: umlauts typed as \"ae\", \"oe\", \"ue\" (KUENDIGEN, \"loeschen\"), the verbs' nouns (ABMELDUNG, "
        "KÜNDIGUNG), HÖR AUF, \"melden Sie mich ab\", \"kein Interesse, bitte austragen\"",
    ),
)
