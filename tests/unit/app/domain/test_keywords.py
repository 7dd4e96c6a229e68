import pytest

from app.domain.keywords import Intent, KeywordClassifier, normalize_text

classifier = KeywordClassifier()

OPT_OUT = ["STOP", "stop", "Stop", "sToP", " STOP ", "STOP.", "STOP!", "stop!!!", "¡stop!", "'stop'", "\tSTOP\n",
           "CANCEL", "cancel.", "END", "end", "QUIT", "quit?", "STOPALL", "StopAll", "UNSUBSCRIBE", "Unsubscribe!",
           "ＳＴＯＰ", "STOP 🛑", "🛑 stop", "(stop)", "stop…"]
OPT_IN = ["START", "start", "Start!", "YES", "yes.", "Yes", "UNSTOP", "unstop", " START ", "ＳＴＡＲＴ"]
NONE = ["", "   ", "!!!", "hello", "stop please", "please stop", "STOP STOP", "weekend", "attend", "stopping",
        "ended", "quitting", "yesterday", "starting", "restart", "we have got to STOP this bill", "Stop by at 5",
        "S T O P", "st op", "stopall now", "unstoppable", "yess", "🛑"]


@pytest.mark.parametrize("body", OPT_OUT)
def test_opt_out(body):
    result = classifier.classify(body)
    assert result.intent is Intent.OPT_OUT
    assert result.matched is not None


@pytest.mark.parametrize("body", OPT_IN)
def test_opt_in(body):
    assert classifier.classify(body).intent is Intent.OPT_IN


@pytest.mark.parametrize("body", NONE)
def test_none(body):
    assert classifier.classify(body).intent is Intent.NONE


def test_matched_is_the_normalized_keyword():
    assert classifier.classify("  Stop!! ").matched == "stop"


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [("  STOP!  ", "stop"), ("ARRÊT", "arret"), ("ＳＴＯＰ", "stop"), ("opt   out", "opt out"), ("🛑stop🛑", "stop"), ("", "")],
)
def test_normalize_text(raw, normalized):
    assert normalize_text(raw) == normalized


def test_custom_keywords():
    custom = KeywordClassifier(opt_out=frozenset({"ARRET"}), opt_in=frozenset({"NONARRET"}))
    assert custom.classify("Arrêt").intent is Intent.OPT_OUT
    assert custom.classify("nonarret").intent is Intent.OPT_IN
    assert custom.classify("stop").intent is Intent.NONE
