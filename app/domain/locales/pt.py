"""Portuguese (português)."""

from app.domain.locales import Pack, Pattern

_MESSAGES = (r"(?:mensage(?:m|ns)|sms|msgs?|torpedos?|notificacoes|promocoes|propagandas?|ofertas|publicidade|"
             r"spam)")
_LIST = (r"(?:da|de|dessa|desta|desse|deste|das|do|dos|de sua|da sua|da vossa|dessas|destas) (?:lista|listas|"
         r"cadastro|base|contatos|envios|mensagens|sms|grupo de (?:mensagens|sms))\b(?! de espera)")
_WANT = r"(?:(?:quero|desejo|gostaria de|queria) )?"
_REMOVE = (r"(?:tira|tire|tirem|tirar|remove|remova|removam|remover|exclui|exclua|excluam|excluir|retira|retire|"
           r"retirem|retirar|apaga|apague|apaguem|apagar|descadastra|descadastre|descadastrem|descadastrar)")

PATTERNS = (
    Pattern(
        "pt", "não me mandem mensagens",
        ("nao",),
        r"\bnao (?:me |nos )?(?:mande[ms]?|mandar|manda|envie[ms]?|enviar|envia)(?: mais)?(?:$| (?:nada|mais)\b"
        rf"|(?: (?:mais|essas|estas|suas|seus|as|os|nenhuma))* {_MESSAGES}\b)",
        matches=("não me mande mais mensagens", "Não me mandem mais nada", "nao envie sms"),
        never=("não me mande o boleto ainda",),
    ),
    Pattern(
        "pt", "não me contatem",
        ("nao",),
        r"\bnao (?:me |nos )?(?:contate[ms]?|contatar|contacte[ms]?|ligue[ms]?|ligar|liga|escreva[ms]?|escrever|"
        r"perturbe[ms]?|perturbar|incomode[ms]?|incomodar)\b",
        matches=("não me contatem", "Não me liguem mais", "nao me perturbe"),
        never=("não me ligue depois das 20h", "não sei escrever", "não me ligue agora"),
        qualifiers=r" (?:depois|antes|ate|amanha|hoje|a noite|de noite|durante|no trabalho|mas|agora)\b",
    ),
    Pattern(
        "pt", "não quero (mais) receber mensagens",
        ("nao",),
        r"\b(?:eu )?nao (?:quero|desejo|preciso)(?: (?:mais|receber|continuar recebendo|nenhuma?|essas|estas|suas|"
        rf"seus|as|os|tuas))* {_MESSAGES}\b|^(?:eu )?nao quero mais(?: nada)?$",
        matches=("não quero mais receber mensagens", "Não quero receber essas mensagens", "não quero mais"),
        never=("não quero perder suas mensagens",),
    ),
    Pattern(
        "pt", "me tira dessa lista",
        ("me",),
        rf"\b{_WANT}(?:me {_REMOVE}|{_REMOVE} me)(?: {_LIST}|$)",
        matches=("me tira dessa lista", "Me remove da lista", "tire-me da lista", "quero me descadastrar",
                 "me exclua"),
        never=("me tira da lista de espera", "me tira uma dúvida"),
    ),
    Pattern(
        "pt", "apaguem meu número",
        ("meu",),
        r"\b(?:apaga|apague|apaguem|exclua|excluam|exclui|remova|removam|remove|delete|deleta|deletem|esqueca|"
        r"esquecam) (?:o )?meu (?:numero|telefone|celular|contato|cadastro|nome)\b(?! da lista de espera)",
        matches=("apaguem meu número", "exclua o meu telefone", "remova meu número da lista"),
        never=("troquei meu número",),
    ),
    Pattern(
        "pt", "parem de mandar / chega",
        ("de",),
        r"\b(?:para|pare|parem|parar) de (?:me )?(?:mandar|enviar|encher|ligar|perturbar|incomodar|escrever)\b"
        rf"|\bchega de {_MESSAGES}\b",
        matches=("para de me mandar mensagem", "parem de enviar", "chega de mensagens"),
        never=("não pare de estudar", "chega amanhã"),
    ),
)

PACK = Pack(
    code="pt",
    language="Portuguese",
    opt_out=("sair", "parar", "cancelar", "descadastrar", "descadastre", "remover", "desinscrever", "chega"),
    local_opt_out=("para", "pare"),
    opt_in=("iniciar", "cadastrar"),
    help=("ajuda",),
    phrases=("me deixa em paz", "me deixe em paz", "me deixem em paz"),
    patterns=PATTERNS,
    review=("descadastrar", "descadastre", "desinscrever"),
    courtesy=("por favor", "pfv", "pf", "pfvr", "obrigado", "obrigada", "obg", "brigado", "brigada", "valeu", "vlw",
              "agora", "já", "imediatamente", "de uma vez"),
    negations=("nao", "nunca", "jamais", "nem"),
    opt_out_confirmation="Sua inscrição foi cancelada e você não receberá mais mensagens nossas. "
                         "Responda START para se inscrever novamente.",
    opt_in_confirmation="Sua inscrição foi reativada e você voltará a receber mensagens. Responda SAIR para cancelar.",
    help_text="Responda SAIR para cancelar a inscrição ou START para se inscrever novamente. "
              "Podem ser cobradas tarifas de mensagens e dados.",
    excluded=(
        ("PARA, PARE as global keywords", "\"para\" is also \"for\" in Portuguese and Spanish; \"pare\" is English "
         "and Italian: Portuguese (and Spanish) replies only"),
        ("SAIR, PARAR, CANCELAR, REMOVER as review words", "everyday verbs (\"vou sair\", \"cancelar o pedido\")"),
        ("VOLTAR, RECEBER, SIM (opt-in)", "Sinch's #voltar/#receber are menu words without the '#'; \"sim\" "
         "answers any question"),
    ),
    sources=(
        "Anatel's carrier opt-out for promotional SMS: reply SAIR",
        "Bird (MessageBird) compliance keywords: parar, ajuda",
        "Sinch opt-out words: parar, sair",
        "Aivo SMS opt-out guide: parar, cancelar, remover, descadastrar; opt-in iniciar, cadastrar",
        "issue 9 (\"não quero mais receber mensagens\", \"me tira dessa lista\")",
    ),
)
