"""French (français). Elisions lose their apostrophe: "ne m'envoyez plus" is "ne menvoyez plus"."""

from app.domain.locales import Pack, Pattern

_MESSAGES = r"(?:messages?|sms|textos?|notifications|promotions|pubs?|publicites?|offres|spam)"
_LIST = (r"(?:(?:la|votre|vos|cette|ta|tes|ces|vos) )?(?:liste|listes|fichier|fichiers|base|envois|contacts|"
         r"mailing|diffusion)\b(?! dattente| d attente)")
_WANT = r"(?:(?:je veux|je souhaite|je voudrais|veuillez|merci de|pouvez vous) )?"
_VERB = (r"(?:envoyez|envoie|envoyer|ecrivez|ecris|ecrire|contactez|contacte|contacter|appelez|appelle|appeler|"
         r"textez|derangez|derange|deranger|harcelez|harceler)")

PATTERNS = (
    Pattern(
        "fr", "ne m'envoyez plus",
        ("plus",),
        rf"\bne (?:me |m|nous )?{_VERB} plus\b|\bn(?:envoyez|ecrivez|appelez) plus\b|\bne plus (?:me |m)?{_VERB}\b",
        matches=("Ne m'envoyez plus de SMS", "ne m'écrivez plus", "n'envoyez plus rien", "ne plus me contacter"),
        never=("ne m'écrivez plus après 20h", "je ne peux plus attendre"),
        qualifiers=r" (?:apres|avant|jusqua|demain|aujourdhui|ce soir|le soir|la nuit|le week end|pendant|au travail|"
                   r"mais)\b",
    ),
    Pattern(
        "fr", "je ne veux plus recevoir de messages",
        ("plus",),
        r"\b(?:je )?ne (?:veux|souhaite|desire|voudrais) plus (?:recevoir |avoir )?(?:de |vos |ces |les |des |aucun |"
        rf"aucune |de vos )?{_MESSAGES}\b|^plus de (?:sms|messages|textos|pub)$",
        matches=("Je ne veux plus recevoir de messages", "je ne souhaite plus vos SMS", "plus de SMS svp"),
        never=("je ne veux plus attendre", "il me faut plus de SMS dans mon forfait"),
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
        rf"(?: de {_LIST}|$)",
        matches=("Retirez-moi de votre liste", "désabonnez-moi", "je veux me désinscrire",
                 "merci de me retirer de la liste"),
        never=("retirez-moi de la liste d'attente", "je ne veux pas me désinscrire"),
    ),
    Pattern(
        "fr", "arrêtez de m'envoyer des messages",
        ("de",),
        r"\b(?:arretez|arrete|arreter|cessez|cesse|cesser) de (?:menvoyer|mecrire|me contacter|me harceler|"
        r"mappeler|me deranger|menvoyer des|envoyer des|nous envoyer)\b",
        matches=("Arrêtez de m'envoyer des messages", "arrête de m'écrire", "cessez de me contacter"),
        never=("arrête de rire",),
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
    ),
)
