"""Italian (italiano). Elisions lose their apostrophe: "lista d'attesa" is "lista dattesa"."""

from app.domain.locales import Pack, Pattern

_MESSAGES = r"(?:messaggi|messaggio|sms|notifiche|promozioni|pubblicita|offerte|spam)"
_WANT = r"(?:(?:voglio|vorrei|desidero) )?"
_TAKE_ME_OFF = ("toglietemi", "toglimi", "rimuovetemi", "rimuovimi", "cancellatemi", "cancellami", "eliminatemi",
                "eliminami", "levatemi", "levami", "disiscrivetemi", "disiscrivimi")

PATTERNS = (
    Pattern(
        "it", "non scrivetemi più",
        ("non",),
        r"\bnon (?:mi |ci )?(?:scrivete|scrivetemi|scrivermi|scrivere|scrivi|contattate|contattatemi|contattarmi|"
        r"contattare|contatta|chiamate|chiamatemi|chiamarmi|chiamare|disturbate|disturbatemi|disturbarmi|"
        r"disturbare)\b",
        matches=("non scrivetemi più", "Non contattatemi", "non mi disturbate", "non chiamatemi mai più"),
        never=("non scrivetemi dopo le 21", "non chiamatemi adesso"),
        qualifiers=(r" (?:dopo|prima|fino|domani|oggi|stasera|di sera|la sera|di notte|durante|al lavoro|ma|ora|"
                    r"adesso)\b"),
    ),
    Pattern(
        "it", "non mandatemi messaggi",
        ("non",),
        r"\bnon (?:mi |ci )?(?:mandate|mandatemi|mandarmi|mandare|manda|inviate|inviatemi|inviarmi|inviare|invia)"
        rf"(?: piu| mai piu)?(?:$| (?:altri |piu )?{_MESSAGES}\b| (?:nulla|niente)\b)",
        matches=("non mandatemi più messaggi", "Non inviatemi più", "non mandarmi niente"),
        never=("non mandatemi la fattura",),
    ),
    Pattern(
        "it", "non voglio più ricevere messaggi",
        ("non",),
        r"\bnon (?:voglio|desidero)(?: (?:piu|ricevere|mai piu|i|questi|vostri|altri|alcun|alcuno))* "
        rf"{_MESSAGES}\b",
        matches=("non voglio più ricevere messaggi", "Non desidero ricevere sms", "non voglio i vostri messaggi"),
        never=("non voglio perdere i vostri messaggi",),
    ),
    Pattern(
        "it", "cancellate il mio numero",
        ("mio",),
        r"\b(?:cancella|cancellate|cancellare|elimina|eliminate|eliminare|rimuovi|rimuovete|rimuovere|togli|"
        r"togliete|togliere) (?:il )?mio (?:numero|contatto|nominativo|cellulare)\b(?! dalla lista dattesa)",
        matches=("cancellate il mio numero", "Eliminate il mio numero dalla lista", "rimuovi il mio contatto"),
        never=("ho cambiato il mio numero",),
    ),
    Pattern(
        "it", "toglietemi dalla lista",
        _TAKE_ME_OFF,
        rf"\b{_WANT}(?:{'|'.join(_TAKE_ME_OFF)})(?: (?:dalla|dalle|dai|da) (?:vostra |vostre |vostri |questa )?"
        r"(?:lista|liste|mailing list|rubrica|contatti|invii)\b(?! dattesa| di attesa)|$)",
        matches=("toglietemi dalla lista", "Cancellatemi dalla vostra lista", "rimuovetemi",
                 "disiscrivetemi per favore"),
        never=("toglietemi dalla lista d'attesa", "toglimi un dubbio"),
    ),
    Pattern(
        "it", "smettetela di scrivermi / basta messaggi",
        ("di", "basta"),
        r"\b(?:smettete|smettila|smettetela|smetti|smettere|basta) di (?:scrivermi|scrivere|mandarmi|mandare|"
        rf"inviarmi|inviare|contattarmi|disturbarmi|chiamarmi)\b|\bbasta (?:con (?:i |questi )?)?{_MESSAGES}\b",
        matches=("smettetela di scrivermi", "basta messaggi", "basta con questi sms"),
        never=("basta così, grazie del consiglio",),
    ),
)

PACK = Pack(
    code="it",
    language="Italian",
    opt_out=("annulla", "fermare", "ferma", "fermati", "fermarsi", "basta", "disiscrivi", "disiscrivimi",
             "disiscrizione", "cancellami", "rimuovimi", "esci", "dimettersi"),
    local_opt_out=("fine",),
    opt_in=("iscrivimi", "riattiva"),
    help=("aiuto",),
    phrases=("lasciatemi in pace", "lasciami in pace"),
    patterns=PATTERNS,
    review=("annulla", "disiscrivi", "disiscrivimi", "disiscrizione", "cancellami", "rimuovimi"),
    courtesy=("per favore", "per piacere", "perfavore", "xfavore", "grazie", "grazie mille", "ora", "adesso",
              "subito", "immediatamente"),
    negations=("non", "mai", "neanche", "nemmeno"),
    opt_out_confirmation="Hai annullato l'iscrizione e non riceverai più messaggi da noi. "
                         "Rispondi START per iscriverti di nuovo.",
    opt_in_confirmation="Ti sei iscritto di nuovo e riceverai di nuovo i messaggi. "
                        "Rispondi STOP per annullare l'iscrizione.",
    help_text="Rispondi STOP per annullare l'iscrizione o START per iscriverti di nuovo. "
              "Potrebbero essere applicati costi per messaggi e dati.",
    excluded=(
        ("FINE as a global keyword", "English \"fine\" (\"Fine, see you then\"): Italian replies only"),
        ("FERMA, BASTA, ESCI as review words", "everyday words (\"basta così\", \"esci stasera?\")"),
        ("SÌ (opt-in)", "answers any question"),
    ),
    sources=(
        "ActiveCampaign's Italian STOP keywords: FERMARSI, ANNULLA, FINE, DIMETTERSI, DISISCRIZIONE",
        "AGCOM: reply ANNULLA to cancel an unwanted subscription",
        "Bird (MessageBird) compliance keywords: ferma, aiuto",
        "issue 9 and domain.md (ANNULLA, FERMARE)",
    ),
)
