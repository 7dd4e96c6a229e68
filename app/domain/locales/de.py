"""German (Deutsch). "ß" folds to "ss", umlauts to their vowel ("kündigen" is "kundigen")."""

from app.domain.locales import Pack, Pattern

_MESSAGES = r"(?:sms|nachrichten|nachricht|mitteilungen|texte|werbung|werbe ?sms|newsletter|spam)"
_LIST = (r"(?:der|dem|ihrer|eurer|dieser|deiner|allen|ihren|euren|diesem|ihrem|eurem) (?:liste|listen|verteiler|"
         r"verteilerliste|kartei|datenbank|sms ?liste|kontaktliste|sms verteiler)\b")

PATTERNS = (
    Pattern(
        "de", "schreiben Sie mir nicht mehr",
        ("mir", "mich", "uns"),
        r"\b(?:schreib|schreiben sie|schreibt|kontaktier|kontaktieren sie|kontaktiert|ruf|rufen sie|ruft|schick|"
        r"schicken sie|schickt|sende|senden sie|sendet|nerv|nerven sie|nervt) (?:mir|mich|uns) (?:bitte )?"
        rf"(?:nicht mehr|nie wieder|nie mehr|keine (?:weiteren? )?{_MESSAGES}(?: mehr)?)\b",
        matches=("Schreiben Sie mir nicht mehr", "schick mir keine SMS mehr", "ruf mich nie wieder an",
                 "kontaktieren Sie mich nicht mehr"),
        never=("schreib mir morgen", "schicken Sie mir keine Rechnung"),
    ),
    Pattern(
        "de", "bitte nicht mehr schreiben",
        ("mehr", "wieder"),
        r"\b(?:nicht mehr|nie wieder|nie mehr) (?:schreiben|kontaktieren|anrufen|simsen|texten|anschreiben|"
        r"belastigen|nerven)\b",
        matches=("bitte nicht mehr schreiben", "nie wieder kontaktieren!"),
        never=("ich kann nicht mehr warten",),
    ),
    Pattern(
        "de", "ich möchte keine SMS mehr",
        ("keine", "keinen"),
        rf"\b(?:ich )?(?:will|mochte|moechte|brauche|wunsche) keine (?:weiteren? )?{_MESSAGES}\b(?! (?:\w+ )?verpassen)"
        rf"|\bkeine (?:weiteren? )?{_MESSAGES} mehr\b",
        matches=("Ich möchte keine SMS mehr", "ich will keine Nachrichten", "keine Werbung mehr bitte"),
        never=("ich möchte keine Nachricht verpassen", "keine SMS bekommen?"),
    ),
    Pattern(
        "de", "löschen Sie meine Nummer",
        ("meine",),
        r"\b(?:losch|losche|loschen sie|loscht|entfern|entferne|entfernen sie|entfernt|streich|streiche|"
        r"streichen sie) (?:bitte )?meine (?:nummer|handynummer|telefonnummer|daten|kontaktdaten)\b"
        r"(?! (?:von|aus) der warteliste)",
        matches=("lösch meine Nummer", "Entfernen Sie bitte meine Telefonnummer", "löschen Sie meine Daten"),
        never=("ich habe meine Nummer geändert",),
    ),
    Pattern(
        "de", "nehmen Sie mich von der Liste",
        ("mich",),
        r"\b(?:nimm|nehmen sie|nehmt|streich|streiche|streichen sie|streicht|entfern|entferne|entfernen sie|"
        rf"entfernt|trag|tragen sie|tragt|losch|loschen sie|loscht) mich (?:bitte )?(?:aus|von) {_LIST}"
        r"|\b(?:trag|tragen sie|tragt) mich (?:bitte )?aus\b|\bmich (?:bitte )?(?:austragen|abmelden|entfernen)\b",
        matches=("Nehmen Sie mich von der Liste", "streich mich aus dem Verteiler",
                 "trag mich aus", "bitte mich austragen"),
        never=("Nehmen Sie mich von der Warteliste", "nimm mich mit"),
    ),
    Pattern(
        "de", "hören Sie auf, mir zu schreiben",
        ("auf",),
        r"\b(?:hor|hore|horen sie|hort) (?:bitte )?auf (?:mir|mich|uns) (?:\w+ )?(?:zu )?(?:schreiben|schicken|"
        r"senden|kontaktieren|nerven|belastigen|anzuschreiben|simsen)\b",
        matches=("hört auf mir zu schreiben", "Hören Sie auf, mich zu kontaktieren"),
        never=("hör auf zu lachen",),
    ),
)

PACK = Pack(
    code="de",
    language="German",
    opt_out=("stopp", "halt", "ende", "abmelden", "abbestellen", "austragen", "kündigen", "stornieren", "aufhören"),
    opt_in=("anmelden",),
    help=("hilfe",),
    phrases=("lass mich in Ruhe", "lassen Sie mich in Ruhe", "lasst mich in Ruhe"),
    patterns=PATTERNS,
    review=("stopp", "abmelden", "abbestellen", "austragen", "kündigen", "stornieren"),
    courtesy=("bitte", "danke", "danke schön", "dankeschön", "vielen Dank", "sofort", "jetzt", "endlich"),
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
    ),
)
