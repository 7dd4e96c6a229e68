"""Italian (italiano). Elisions lose their apostrophe: "lista d'attesa" is "lista dattesa"."""

from app.domain.locales import Pack, Pattern

_MESSAGES = r"(?:messaggi|messaggio|sms|notifiche|promozioni|pubblicita|offerte|spam)"
_WANT = r"(?:(?:voglio|vorrei|desidero) )?"
_TAKE_ME_OFF = ("toglietemi", "toglimi", "rimuovetemi", "rimuovimi", "cancellatemi", "cancellami", "eliminatemi",
                "eliminami", "levatemi", "levami", "disiscrivetemi", "disiscrivimi")

_LIST = (r"(?:dalla|dalle|dai|da) (?:vostra |vostre |vostri |questa |tua |sua )?(?:lista|liste|mailing list|rubrica|"
         r"contatti|invii)\b(?! dattesa| di attesa)")
_WHEN = r" (?:dopo|prima|fino|domani|oggi|stasera|di sera|la sera|di notte|durante|al lavoro|ma|ora|adesso)\b"

PATTERNS = (
    Pattern(
        "it", "non scrivetemi più",
        ("non",),
        r"\bnon (?:(?:mi |ci )(?:scrivete|scrivere|scrivi|contattate|contattare|contatta|chiamate|chiamare|chiama|"
        r"disturbate|disturbare|disturbi|cercate|cercare)|scrivetemi|scrivermi|contattatemi|contattarmi|chiamatemi|"
        r"chiamarmi|disturbatemi|disturbarmi|cercatemi|cercarmi)\b"
        r"|\bnon (?:scrivete|scrivere|contattate|contattare|chiamate|chiamare|disturbate|disturbare)"
        r"(?=$| (?:piu|mai|a questo numero|questo numero)\b)",
        matches=("non scrivetemi più", "Non contattatemi", "non mi disturbate", "non chiamatemi mai più",
                 "non scrivete più a questo numero"),
        never=("non scrivetemi dopo le 21", "non chiamatemi adesso", "Perché non scrivi un bel libro?",
               "Non disturbate coloro che sono in sosta"),
        qualifiers=_WHEN,
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
        r"\bnon (?:voglio|desidero)(?: (?:piu|ricevere|mai piu|i|le|questi|queste|vostri|vostre|altri|altre|alcun|"
        rf"alcuno|alcuna|tuoi|tue|dei|delle))* {_MESSAGES}\b"
        rf"|\b(?:vorrei|voglio|preferirei|desidero|preferisco) non ricevere(?: (?:piu|mai piu|i|le|questi|queste|"
        rf"vostri|vostre|altri|altre))* {_MESSAGES}\b"
        r"|\bnon (?:voglio|desidero)(?: piu| mai piu)? essere (?:contattat|disturbat|chiamat|cercat|"
        r"scritt)[oaie]\b|^non (?:voglio|desidero) (?:piu|ricevere piu|piu ricevere)(?: (?:niente|nulla|ricevere))*$",
        matches=("non voglio più ricevere messaggi", "Non desidero ricevere sms", "non voglio i vostri messaggi",
                 "Non voglio essere contattato", "non voglio più essere contattata",
                 "Non voglio più ricevere le vostre promozioni", "Vorrei non ricevere più messaggi"),
        never=("non voglio perdere i vostri messaggi", "non voglio essere contattato dopo le 20", "non voglio"),
        qualifiers=_WHEN,
    ),
    Pattern(
        "it", "cancellate il mio numero",
        ("mio", "miei"),
        r"\b(?:cancella|cancellate|cancellare|elimina|eliminate|eliminare|rimuovi|rimuovete|rimuovere|togli|"
        r"togliete|togliere) (?:il mio (?:numero|contatto|nominativo|cellulare)|i miei (?:dati|contatti))\b"
        r"(?! dalla lista dattesa)",
        matches=("cancellate il mio numero", "Eliminate il mio numero dalla lista", "rimuovi il mio contatto",
                 "cancellate i miei dati"),
        never=("ho cambiato il mio numero", "cancellate il mio numero dalla lista d'attesa"),
    ),
    Pattern(
        "it", "toglietemi dalla lista / voglio disiscrivermi",
        (*_TAKE_ME_OFF, "disiscrivermi", "cancellarmi", "rimosso", "rimossa", "cancellato", "cancellata", "tolto",
         "tolta", "eliminato", "eliminata", "iscrizione", "liscrizione"),
        rf"\b{_WANT}(?:{'|'.join(_TAKE_ME_OFF)})(?: {_LIST}|$)"
        rf"|\b(?:voglio|vorrei|desidero) (?:disiscrivermi|cancellarmi|essere (?:rimoss|cancellat|tolt|eliminat|"
        rf"disiscritt)[oa])(?: {_LIST}|$)"
        r"|\b(?:voglio |vorrei |desidero )?(?:annulla|annullate|annullare|cancella|cancellate|cancellare|disdire|"
        r"disdici|disdite) (?:la |mia |la mia |l)?iscrizione\b(?! (?:a|al|alla|allo|ai|in|nel|nella|per) )",
        matches=("toglietemi dalla lista", "Cancellatemi dalla vostra lista", "rimuovetemi",
                 "disiscrivetemi per favore", "Voglio disiscrivermi", "Vorrei essere rimosso dalla lista",
                 "Annulla iscrizione", "Annullare l'iscrizione"),
        never=("toglietemi dalla lista d'attesa", "toglimi un dubbio", "vorrei essere rimosso dal gruppo calcetto",
               "annullare l'iscrizione al corso"),
    ),
    Pattern(
        "it", "smettetela di scrivermi / basta messaggi",
        ("di", "basta"),
        r"\b(?:smettete|smettila|smettetela|smetti|smettere|basta|piantala|piantatela|finitela|finiscila) di "
        r"(?:scrivermi|scrivere|mandarmi|mandare|inviarmi|inviare|contattarmi|disturbarmi|chiamarmi)\b"
        rf"|\bbasta (?:con (?:i |questi )?)?{_MESSAGES}\b",
        matches=("smettetela di scrivermi", "basta messaggi", "basta con questi sms", "piantatela di scrivermi"),
        never=("basta così, grazie del consiglio", "smettila di ridere"),
    ),
    Pattern(
        "it", "fermate i messaggi",
        ("fermate", "ferma", "fermare", "bloccate", "blocca", "bloccare", "interrompete", "interrompi", "interrompere",
         "sospendete", "sospendi", "sospendere", "stoppate", "stop", "basta"),
        r"(?<!come )(?<!per )\b(?:fermate|ferma|fermare|bloccate|blocca|bloccare|interrompete|interrompi|interrompere|"
        r"sospendete|sospendi|sospendere|stoppate) (?:(?:i|questi|tutti i|i vostri|l ?invio (?:di|dei)|le|queste|"
        rf"tutte le) )*{_MESSAGES}\b(?! (?:di|del|della|dello|dei|delle|su|per) (?!(?:voi|vostr)))"
        rf"|^(?:stop|basta) (?:ai|agli|alle|a questi|a queste|ai vostri|alle vostre) {_MESSAGES}$",
        matches=("fermate i messaggi", "bloccate l'invio dei messaggi", "interrompete le notifiche",
                 "stop ai messaggi"),
        never=("come bloccare i messaggi sul telefono?", "fermate i messaggi della banca",
               "fermate i messaggi dopo le 20"),
        qualifiers=_WHEN,
    ),
)

PACK = Pack(
    code="it",
    language="Italian",
    # SMETTILA / PIANTALA: "stop it", the commonest way to say it
    opt_out=("annulla", "fermare", "ferma", "fermati", "fermarsi", "basta", "disiscrivi", "disiscrivimi",
             "disiscrizione", "cancellami", "rimuovimi", "esci", "dimettersi", "smettila", "smettetela", "smettete",
             "piantala", "piantatela"),
    # CANCELLAZIONE is also a booking's cancellation: Italian replies only, where it answers the program's texts
    local_opt_out=("fine", "cancellazione"),
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
        ("CANCELLAZIONE as a global keyword", "also a booking's cancellation: Italian replies only, where it "
         "answers the program's own texts"),
        ("FERMA, BASTA, ESCI as review words", "everyday words (\"basta così\", \"esci stasera?\")"),
        ("SÌ (opt-in)", "answers any question"),
    ),
    sources=(
        "ActiveCampaign's Italian STOP keywords: FERMARSI, ANNULLA, FINE, DIMETTERSI, DISISCRIZIONE",
        "AGCOM: reply ANNULLA to cancel an unwanted subscription",
        "Bird (MessageBird) compliance keywords: ferma, aiuto",
        "issue 9 and domain.md (ANNULLA, FERMARE)",
        "issue 23: SMETTILA / PIANTALA, \"voglio disiscrivermi\", \"annulla iscrizione\", \"non voglio essere "
        "contattato\", \"fermate i messaggi\"; accents typed as apostrophes (\"piu'\")",
    ),
)
