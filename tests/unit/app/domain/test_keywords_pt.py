"""Portuguese."""

import pytest

from tests.unit.app.domain.test_keywords_packs import HELP, IN, NONE, NOT_OUT, OUT, REVIEW, check, ids, pack_cases

CASES = pack_cases("pt") + [
    # issue 9: these answered none
    ("não quero mais receber mensagens", OUT), ("me tira dessa lista", OUT), ("SAIR", OUT),
    # courtesy and emphasis
    ("Sair por favor", OUT), ("SAIR, obrigado", OUT), ("já chega", OUT), ("Chega!", OUT), ("SAIR SAIR", OUT),
    ("saiiir", OUT), ("parar agora", OUT), ("Me tira dessa lista, obrigado", OUT), ("ajuda por favor", HELP),
    ("INICIAR", IN),
    # plain requests
    ("Não me mande mais mensagens", OUT), ("parem de me mandar mensagem", OUT), ("apaguem meu número", OUT),
    ("me deixa em paz", OUT), ("Não quero mais", OUT), ("quero me descadastrar", OUT), ("tire-me da lista", OUT),
    ("não me liguem mais", OUT),
    # a person decides
    ("quero descadastrar meu email", REVIEW), ("não quero me descadastrar", REVIEW), ("não me ligue agora", REVIEW),
    ("SIAR", REVIEW), ("cancelra", REVIEW), ("descadastar", REVIEW),
    # must not opt out
    ("vou sair agora", NONE), ("para amanhã", NONE), ("chega amanhã", NONE), ("pare de brincar", NONE),
    ("não quero", NONE), ("sim", NONE), ("cancelar o pedido", NONE), ("me tira da lista de espera", NOT_OUT),
    ("me tira uma dúvida", NONE), ("troquei meu número", NONE), ("não quero perder suas mensagens", NONE),
    ("não me mande o boleto ainda", NONE), ("obrigado!", NONE), ("oi", NONE), ("tudo bem", NONE),
    ("que horas abre?", NONE), ("said", NONE),
    # colloquial imperatives, Portuguese replies only (issue 23: "sai" was none)
    ("sai", OUT), ("Sai fora", OUT), ("SAI FORA!", OUT), ("sai daqui", OUT), ("bloqueia", OUT), ("Bloquear", OUT),
    ("Para com isso", OUT), ("parem com isso!", OUT), ("saiii", OUT),
    # written without accents, "não" as people type it (issue 23)
    ("nao quero mais receber mensagens", OUT), ("Nao me mande mais mensagem", OUT), ("naum me manda mais nada", OUT),
    ("ñ quero mais", OUT), ("n me mande mais mensagens", OUT), ("NAO ME LIGUE MAIS", OUT), ("nao me tira da lista", REVIEW),
    # rafa77-tech/whats-agents tests/optout/test_deteccao_exaustiva.py: must opt out
    ("Para de me mandar mensagem", OUT), ("para de mandar msg", OUT), ("PARA DE ME MANDAR MENSAGEM", OUT),
    ("Para de me mandar essas mensagens por favor", OUT), ("Não quero mais receber mensagens", OUT),
    ("nao quero receber isso", OUT), ("não quero mais nada", OUT), ("Me remove da lista", OUT),
    ("exclui meu numero", OUT), ("remove meu contato", OUT), ("STOP", OUT), ("SAIR", OUT), ("parar", OUT),
    ("cancelar", OUT), ("chega", OUT), ("olha, não quero mais receber mensagem nenhuma", OUT),
    ("por favor para de me mandar essas coisas", OUT), ("já falei pra parar de mandar", OUT),
    # ... and must not (its negative cases)
    ("Oi, tudo bem?", NONE), ("Tenho interesse em plantão", NONE), ("Qual o valor?", NONE),
    ("Para quando é o plantão?", NONE), ("Vou parar de trabalhar amanhã", NONE), ("Quero parar pra almoçar", NONE),
    ("Não quero esse horário, tem outro?", NONE), ("Remove a vaga de sábado, peguei outra", NOT_OUT),
    ("Me manda mais informações", NONE), ("Para mim tá bom", NONE), ("Quero sair mais cedo do plantão", NONE),
    ("Vou sair às 19h", NONE), ("Cancela a reserva de sexta", NONE), ("Bloqueia minha agenda dia 15", NONE),
    # more plain requests of issue 23, and their look-alikes
    ("Quero sair da lista", OUT), ("Cancelar inscrição", OUT), ("Chega, não quero mais", OUT),
    ("Não quero receber mais nada", OUT), ("quero ser removido da lista", OUT), ("tira meu número da lista", OUT),
    ("bloqueiem as mensagens", OUT), ("quero sair da lista de espera", NOT_OUT), ("comprei dois e não quero mais", NONE),
    ("quero cancelar a inscrição no curso", NOT_OUT), ("Daqui não saio, daqui ninguém me tira", NOT_OUT),
]


def test_the_portuguese_suite_is_big_enough():
    assert len(CASES) >= 120, len(CASES)


@pytest.mark.parametrize(("body", "expected"), CASES, ids=ids(CASES))
@pytest.mark.parametrize("locale", ["pt", "pt-BR"])
def test_portuguese(locale, body, expected):
    check(locale, body, expected)
