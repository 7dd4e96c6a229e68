"""French (français). Elisions lose their apostrophe: "ne m'envoyez plus" is "ne menvoyez plus"."""

from app.domain.locales import Pack, Pattern

_MESSAGES = r"(?:messages?|sms|textos?|notifications|promotions|pubs?|publicites?|offres|spam|envois)"
_LIST = (r"(?:(?:la|votre|vos|cette|ta|tes|ces|vos) )?(?:liste|listes|fichier|fichiers|base|envois|contacts|"
         r"mailing|diffusion)\b(?! dattente| d attente)")
_WANT = r"(?:(?:je veux|je souhaite|je voudrais|veuillez|merci de|pouvez vous) )?"
_VERB = (r"(?:envoyez|envoie|envoyer|ecrivez|ecris|ecrire|contactez|contacte|contacter|appelez|appelle|appeler|"
         r"textez|derangez|derange|deranger|harcelez|harceler)")

_WHEN = (r" (?:apres|avant|jusqua|demain|aujourdhui|ce soir|le soir|la nuit|le week end|pendant|au travail|"
         r"mais)\b")

PATTERNS = (
    Pattern(
        "fr", "ne m'envoyez plus",
        ("plus",),
        rf"\bne (?:me |m|nous )?{_VERB} plus\b|\bn(?:envoyez|ecrivez|appelez) plus\b|\bne plus (?:me |m)?{_VERB}\b",
        matches=("Ne m'envoyez plus de SMS", "ne m'écrivez plus", "n'envoyez plus rien", "ne plus me contacter"),
        never=("ne m'écrivez plus après 20h", "je ne peux plus attendre"),
        qualifiers=_WHEN,
    ),
    Pattern(
        "fr", "je ne veux plus recevoir de messages",
        ("plus", "recevoir", "etre"),
        r"\b(?:je )?ne (?:veux|souhaite|desire|voudrais) plus (?:recevoir |avoir )?(?:de |vos |ces |les |des |aucun |"
        rf"aucune |de vos )?{_MESSAGES}\b|^plus de (?:sms|messages|textos|pub)$"
        r"|\bne (?:veux|souhaite|desire|voudrais) plus (?:etre|etre du tout) (?:contacte|derange|sollicite|appele|"
        r"relance|harcele)e?s?\b|^(?:je )?ne (?:veux|souhaite|desire) plus rien(?: recevoir)?$"
        r"|^(?:je )?ne (?:veux|souhaite|desire) plus rien recevoir(?: de (?:vous|votre part))?$"
        rf"|\b(?:je )?(?:veux|souhaite|voudrais|aimerais|desire) (?:arreter|cesser|ne plus) (?:de )?recevoir "
        rf"(?:de |vos |ces |les |des |de vos )?{_MESSAGES}\b"
        r"|\b(?:veux|souhaite|voudrais|aimerais|desire) etre (?:retire|desinscrit|desabonne|supprime|raye|enleve)e?s?"
        rf"(?: de {_LIST}|$)"
        # spoken French drops "ne": "je veux plus recevoir" (before a verb "plus" can only be "no more")
        r"|\bje (?:veux|souhaite|voudrais|desire) plus (?:recevoir|rien recevoir|etre (?:contacte|derange|sollicite)"
        r"e?s?)\b",
        matches=("Je ne veux plus recevoir de messages", "je ne souhaite plus vos SMS", "plus de SMS svp",
                 "Je ne veux plus être contacté", "Je ne veux plus rien recevoir",
                 "Je veux arrêter de recevoir des SMS",
                 "je voudrais être désinscrite", "Je veux plus recevoir de SMS"),
        never=("je ne veux plus attendre", "il me faut plus de SMS dans mon forfait", "je ne veux plus rien manger",
               "je ne veux plus être contacté après 20h", "je veux plus de SMS dans mon forfait"),
        qualifiers=_WHEN,
    ),
    Pattern(
        "fr", "supprimez mon numéro",
        ("mon", "mes"),
        r"\b(?:supprimez|supprime|supprimer|effacez|efface|effacer|retirez|retire|retirer) (?:mon|mes) "
        r"(?:numero|num|coordonnees|contact|donnees)\b(?! de la liste dattente)",
        matches=("supprimez mon numéro", "Effacez mes coordonnées", "retirez mon numéro de votre liste"),
        never=("j'ai changé mon numéro",),
    ),
    Pattern(
        "fr", "retirez-moi de la liste / désabonnez-moi",
        ("moi", "me"),
        r"\b(?:retirez|retire|enlevez|enleve|supprimez|supprime|desinscrivez|desinscris|desabonnez|desabonne|rayez|"
        rf"raye) (?:moi|me)(?: de {_LIST}|$)|\b{_WANT}(?:me |m)(?:retirer|enlever|supprimer|desinscrire|desabonner)"
        rf"(?: de {_LIST}| (?:de|des) (?:vos |ces |les |tous les |toutes les )?{_MESSAGES}\b|$)",
        matches=("Retirez-moi de votre liste", "désabonnez-moi", "je veux me désinscrire",
                 "merci de me retirer de la liste", "Je souhaite me désabonner de vos SMS"),
        never=("retirez-moi de la liste d'attente", "je ne veux pas me désinscrire"),
    ),
    Pattern(
        "fr", "arrêtez de m'envoyer des messages",
        ("de", "denvoyer", "decrire"),
        r"\b(?:arretez|arrete|arreter|cessez|cesse|cesser) (?:de (?:menvoyer|mecrire|me contacter|me harceler|"
        r"mappeler|me deranger|menvoyer des|envoyer des|nous envoyer)|d(?:envoyer|ecrire) (?:des |vos )?"
        rf"(?:{_MESSAGES}|ici|a ce numero|$))\b",
        matches=("Arrêtez de m'envoyer des messages", "arrête de m'écrire", "cessez de me contacter",
                 "cessez d'envoyer des SMS"),
        never=("arrête de rire",),
    ),
    Pattern(
        "fr", "une raison, puis un mot-clé",
        ("interesse", "interessee", "interesses", "numero", "inscrit", "inscrite", "merci", "non"),
        r"^(?:(?:je ne suis |je suis |ne suis )?pas interesse(?:e|s|es)?|mauvais numero|erreur de numero"
        r"|non merci|je ne (?:me )?suis jamais inscrit(?:e)?|je (?:me )?suis jamais inscrit(?:e)?)"
        r" (?:stop|arret|arretez|stop sms|desabonner|desabonnement|desinscrire|desinscription|annuler"
        r"|retirez moi|supprimez moi|desabonnez moi|desinscrivez moi)$",
        matches=("Je ne suis pas intéressé, stop", "mauvais numéro, STOP", "pas intéressée. désinscription"),
        never=("pas intéressé", "mauvais numéro", "je ne suis pas intéressé par l'arrêt"),
    ),
    Pattern(
        "fr", "arrêtez les SMS / annulez mon abonnement",
        ("arretez", "arrete", "arreter", "stoppez", "stopper", "stop", "cessez", "cesser", "arret", "abonnement",
         "labonnement"),
        r"(?<!comment )(?<!pour )\b(?:arretez|arrete|arreter|stoppez|stopper|cessez|cesser) "
        r"(?:les |vos |ces |tous les |"
        rf"tous vos |toutes les |lenvoi de |lenvoi des |les envois de |vos envois de )?{_MESSAGES}\b"
        r"(?! (?:de|du|des|sur|pour|concernant) (?!(?:votre|vous|ta|toi)\b))"
        rf"|^(?:arret|stop) (?:des|de vos|de ces|aux|a vos|a ces) {_MESSAGES}$"
        r"|\b(?:je veux |je voudrais |je souhaite |veuillez )?(?:annuler|dannuler|annulez|resilier|resiliez|"
        r"arreter|darreter|arretez|supprimer|supprimez) (?:mon |l|cet |votre )?abonnement\b"
        r"(?! (?:a|au|aux|chez|de|du|pour) "
        rf"(?!(?:vos |ces |les )?{_MESSAGES}\b))",
        matches=("Arrêtez les SMS", "Arrêtez les messages svp", "Annuler mon abonnement", "stoppez vos SMS",
                 "cessez l'envoi de SMS", "stop à vos SMS", "arrêt des messages"),
        never=("comment arrêter les notifications ?", "arrêtez les SMS de la banque",
               "annuler mon abonnement à la salle de sport", "arrêtez les SMS après 20h"),
        qualifiers=_WHEN,
    ),
)

PACK = Pack(
    code="fr",
    language="French",
    # CWTA (Canada) mandatory ARRET/AIDE/INFO; Twilio's ARRETE/ARRETT; French marketing's STOP and "STOP SMS"
    # accents are optional: ARRÊTE is also ARRETE
    opt_out=("arrêt", "arrête", "arrett", "arrêter", "arrêtez", "stop sms", "désabonner", "désabonnement",
             "désinscrire", "désinscription", "désabonnez-moi", "désinscrivez-moi", "annuler"),
    local_opt_out=("fin",),
    opt_in=("nonarret",),
    help=("aide",),
    phrases=("laissez-moi tranquille", "laisse-moi tranquille", "fichez-moi la paix", "foutez-moi la paix"),
    patterns=PATTERNS,
    review=("arrêt", "arrett", "stop sms", "désabonner", "désinscrire", "désabonnement", "désinscription", "annuler"),
    courtesy=("s'il vous plaît", "s'il te plaît", "svp", "stp", "merci", "merci beaucoup", "maintenant",
              "tout de suite", "immédiatement"),
    negations=("ne", "pas", "jamais"),
    opt_out_confirmation="Vous êtes désabonné et ne recevrez plus de messages de notre part. "
                         "Répondez START pour vous réabonner.",
    opt_in_confirmation="Vous êtes réabonné et recevrez de nouveau nos messages. Répondez ARRET pour vous désabonner.",
    help_text="Répondez ARRET pour vous désabonner ou START pour vous réabonner. "
              "Des frais de messagerie et de données peuvent s'appliquer.",
    excluded=(
        ("FIN as a global keyword", "English \"fin\": French (and Spanish) replies only"),
        ("ARRETE, ARRETEZ, ARRETER as review words", "everyday verbs (\"arrête de rire\")"),
        ("OUI (opt-in)", "answers any question"),
    ),
    sources=(
        "CWTA Canadian Common Short Code guidelines (via Infobip): ARRET, AIDE, INFO mandatory, French replies",
        "Twilio Proxy opt-out words: ARRET, ARRETE, ARRETT",
        "Sinch and Bird: ARRET, NONARRET (opt-in), AIDE",
        "French marketing practice (CNIL, Brevo): STOP / \"STOP SMS\"",
        "issue 23: \"arrêtez les SMS\", \"annuler mon abonnement\", \"je veux arrêter de recevoir des SMS\", \"je ne "
        "veux plus être contacté\"; ligatures typed apart (\"œ\" is \"oe\")",
    ),
)
