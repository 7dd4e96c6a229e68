"""Portuguese (português)."""

from app.domain.locales import Pack, Pattern

_MESSAGES = (r"(?:mensage(?:m|ns)|sms|msgs?|torpedos?|notificacoes|promocoes|propagandas?|ofertas|publicidade|"
             r"spam)")
_LIST = (r"(?:da|de|dessa|desta|desse|deste|das|do|dos|de sua|da sua|da vossa|dessas|destas) (?:lista|listas|"
         r"cadastro|base|contatos|envios|mensagens|sms|grupo de (?:mensagens|sms))\b(?! de espera)")
_WANT = r"(?:(?:quero|desejo|gostaria de|queria) )?"
_REMOVE = (r"(?:tira|tire|tirem|tirar|remove|remova|removam|remover|exclui|exclua|excluam|excluir|retira|retire|"
           r"retirem|retirar|apaga|apague|apaguem|apagar|descadastra|descadastre|descadastrem|descadastrar)")
# "não" as people type it: "nao", "naum", "ñ" (folded to "n"), "n"
_NAO = r"(?:nao|naum|n)"
_BLOCKS = ("bloqueia", "bloqueie", "bloqueiem", "bloquear")
_BLOCK = rf"(?:{'|'.join(_BLOCKS)})"
_WHEN = r" (?:depois|antes|ate|amanha|hoje|a noite|de noite|durante|no trabalho|mas|agora)\b"
# what may come before "não quero mais" in a whole message: emphasis, or another way of saying stop
_BEFORE = r"(?:chega|olha|ja|entao|serio|sai fora|sai|para|pare|parem|parar|sair|cancelar|para com isso)"

PATTERNS = (
    Pattern(
        "pt", "não me mandem mensagens",
        ("nao", "naum", "n"),
        rf"\b{_NAO} (?:me |nos )?(?:mande[ms]?|mandar|manda|envie[ms]?|enviar|envia)(?: mais)?(?:$| (?:nada|mais)\b"
        rf"|(?: (?:mais|essas|estas|suas|seus|as|os|nenhuma))* {_MESSAGES}\b)",
        matches=("não me mande mais mensagens", "Não me mandem mais nada", "nao envie sms", "naum me manda mais nada",
                 "ñ me mande mais mensagem"),
        never=("não me mande o boleto ainda", "me manda mais informações"),
    ),
    Pattern(
        "pt", "não me contatem",
        ("nao", "naum", "n"),
        rf"\b{_NAO} (?:me |nos )?(?:contate[ms]?|contatar|contacte[ms]?|ligue[ms]?|ligar|liga|escreva[ms]?|escrever|"
        r"perturbe[ms]?|perturbar|incomode[ms]?|incomodar)\b",
        matches=("não me contatem", "Não me liguem mais", "nao me perturbe", "naum me perturbe"),
        never=("não me ligue depois das 20h", "não sei escrever", "não me ligue agora"),
        qualifiers=_WHEN,
    ),
    Pattern(
        "pt", "não quero (mais) receber mensagens",
        ("nao", "naum", "n"),
        rf"\b(?:eu )?{_NAO} (?:quero|desejo|preciso)(?: (?:mais|receber|continuar recebendo|nenhuma?|essas|estas|suas|"
        rf"seus|as|os|tuas))* {_MESSAGES}\b"
        rf"|^(?:{_BEFORE} )?(?:eu )?{_NAO} quero mais(?: nada)?$"
        rf"|^(?:{_BEFORE} )?(?:eu )?{_NAO} quero (?:mais )?receber(?: (?:isso|isto|mais|nada|"
        r"mais nada|nada disso|essas coisas|mais isso))*$",
        matches=("não quero mais receber mensagens", "Não quero receber essas mensagens", "não quero mais",
                 "nao quero receber isso", "Chega, não quero mais", "Não quero receber mais nada", "n quero mais",
                 "sai fora, não quero mais"),
        never=("não quero perder suas mensagens", "comprei dois e não quero mais", "não quero receber o pedido hoje"),
    ),
    Pattern(
        "pt", "me tira dessa lista",
        ("me", "sair", "ser"),
        rf"(?<!ninguem )\b{_WANT}(?:me {_REMOVE}|{_REMOVE} me)(?: {_LIST}|$)|\b{_WANT}(?:me )?sair {_LIST}"
        r"|\b(?:quero|desejo|gostaria de|queria) ser (?:removid|excluid|retirad|descadastrad|tirad)[oa]s?"
        rf"(?: {_LIST}|$)",
        matches=("me tira dessa lista", "Me remove da lista", "tire-me da lista", "quero me descadastrar",
                 "me exclua", "Quero sair da lista", "quero ser excluída da lista"),
        never=("me tira da lista de espera", "me tira uma dúvida", "Daqui não saio, daqui ninguém me tira",
               "quero sair da lista de espera"),
    ),
    Pattern(
        "pt", "apaguem meu número",
        ("meu",),
        rf"\b(?:{_REMOVE}|delete|deleta|deletem|esqueca|esquecam|{_BLOCK}) (?:o )?meu (?:numero|telefone|celular|"
        r"contato|cadastro|nome)\b(?! da lista de espera)",
        matches=("apaguem meu número", "exclua o meu telefone", "remova meu número da lista", "exclui meu numero",
                 "remove meu contato", "tira meu contato da lista", "descadastre meu telefone"),
        never=("troquei meu número", "remova meu número da lista de espera"),
    ),
    Pattern(
        "pt", "cancelar a inscrição",
        ("inscricao", "cadastro", "recebimento", "envio"),
        rf"\b{_WANT}(?:cancelar|cancela|cancele|cancelem) (?:a |minha |a minha |o |meu |o meu )?(?:inscricao|cadastro)"
        rf"\b(?:$| {_LIST})"
        rf"|\b{_WANT}(?:cancelar|cancela|cancele|cancelem|parar|suspender|suspenda|suspendam) (?:o )?(?:recebimento|"
        rf"envio)(?: (?:de|das|dos|destas|dessas|de suas))? {_MESSAGES}\b",
        matches=("Cancelar inscrição", "Quero cancelar a inscrição", "cancela meu cadastro da lista",
                 "quero cancelar o recebimento de mensagens", "suspendam o envio de SMS"),
        never=("quero cancelar a inscrição no curso", "não quero cancelar minha inscrição"),
    ),
    Pattern(
        "pt", "parem de mandar / chega / bloqueia as mensagens",
        ("de", "com", *_BLOCKS),
        r"\b(?:para|pare|parem|parar) de (?:me )?(?:mandar|enviar|encher|ligar|perturbar|incomodar|escrever)\b"
        rf"|\bchega de {_MESSAGES}\b|\b(?:para|pare|parem) com (?:as |essas |estas |suas )?{_MESSAGES}\b"
        rf"|\b{_BLOCK} (?:as |essas |estas |suas |todas as )?{_MESSAGES}\b",
        matches=("para de me mandar mensagem", "parem de enviar", "chega de mensagens", "parem com essas mensagens",
                 "bloqueia as mensagens"),
        never=("não pare de estudar", "chega amanhã", "Bloqueia minha agenda dia 15", "para com o carro aqui"),
    ),
)

PACK = Pack(
    code="pt",
    language="Portuguese",
    opt_out=("sair", "parar", "cancelar", "descadastrar", "descadastre", "remover", "desinscrever", "chega"),
    # colloquial imperatives, Portuguese replies only ("sai" is Italian "you know"; "para" is "for")
    local_opt_out=("para", "pare", "sai", "sai fora", "sai daqui", "bloqueia", "bloqueie", "bloquear", "para com isso",
                   "pare com isso", "parem com isso"),
    opt_in=("iniciar", "cadastrar"),
    help=("ajuda",),
    phrases=("me deixa em paz", "me deixe em paz", "me deixem em paz"),
    patterns=PATTERNS,
    review=("descadastrar", "descadastre", "desinscrever"),
    courtesy=("por favor", "pfv", "pf", "pfvr", "obrigado", "obrigada", "obg", "brigado", "brigada", "valeu", "vlw",
              "agora", "já", "imediatamente", "de uma vez"),
    negations=("nao", "naum", "n", "nunca", "jamais", "nem", "ninguem"),
    opt_out_confirmation="Sua inscrição foi cancelada e você não receberá mais mensagens nossas. "
                         "Responda START para se inscrever novamente.",
    opt_in_confirmation="Sua inscrição foi reativada e você voltará a receber mensagens. Responda SAIR para cancelar.",
    help_text="Responda SAIR para cancelar a inscrição ou START para se inscrever novamente. "
              "Podem ser cobradas tarifas de mensagens e dados.",
    excluded=(
        ("SAI, SAI FORA, BLOQUEIA, BLOQUEAR, PARA COM ISSO as global keywords", "Italian \"sai\" is \"you know\", "
         "and \"saí\" (I left) is \"sai\" once its accent is folded: Portuguese replies only"),
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
        "rafa77-tech/whats-agents' opt-out detector and its tests (tests/optout/test_deteccao_exaustiva.py): "
        "\"sai fora\", \"bloqueia\", \"para de mandar msg\", \"nao quero receber isso\", \"exclui meu numero\", "
        "\"já falei pra parar de mandar\", and what must not opt out (\"Bloqueia minha agenda dia 15\")",
        "issue 23: \"não\" as people type it (nao, naum, ñ, n), \"quero sair da lista\", \"cancelar inscrição\", "
        "\"para com isso\"",
    ),
)
