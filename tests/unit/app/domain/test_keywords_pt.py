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
    ("que horas abre?", NONE), ("sai", NONE), ("said", NONE),
]


def test_the_portuguese_suite_is_big_enough():
    assert len(CASES) >= 120, len(CASES)


@pytest.mark.parametrize(("body", "expected"), CASES, ids=ids(CASES))
@pytest.mark.parametrize("locale", ["pt", "pt-BR"])
def test_portuguese(locale, body, expected):
    check(locale, body, expected)
