import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.domain.keywords import Intent
from app.intake.policy_file import PolicyFileError, load_policy

REPO = Path(__file__).resolve().parents[3]

GOOD = """
# keywords for every tenant
[default]
opt_out = ["halt"]
phrases = ["stop bugging me"]
help_text = "Acme alerts. Reply STOP to stop."

[locales.fr]
opt_out = ["pouce"]
opt_out_confirmation = "Vous êtes désabonné."

[accounts.acme]
locale = "fr"
opt_in = ["go"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "keywords.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_means_defaults():
    assert load_policy(None).for_reply("x").classifier.classify("stop").intent is Intent.OPT_OUT


def test_good_file(tmp_path):
    policy = load_policy(write(tmp_path, GOOD))
    acme = policy.for_reply("acme")
    assert acme.classifier.classify("pouce").intent is Intent.OPT_OUT
    assert acme.classifier.classify("go").intent is Intent.OPT_IN
    assert acme.classifier.classify("please stop bugging me").intent is Intent.OPT_OUT
    assert acme.texts.opt_out_confirmation == "Vous êtes désabonné."
    assert policy.for_reply("other").texts.help == "Acme alerts. Reply STOP to stop."


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ('[default]\nopt_out = ["halt"\n', None, "invalid TOML"),
        ('[default]\nopt_out = ["halt"]\n\n[accounts.acme]\nopt_in = ["go", 5]\n', 5, "accounts.acme.opt_in.1"),
        ('[default]\nopt_outt = ["x"]\n', 2, "default.opt_outt"),
        ('[defaults]\nopt_out = ["x"]\n', 1, "defaults"),
        ('[default]\nopt_out = ["halt"]\n[locales.fr]\nopt_in = ["Halt!"]\n', 2, "conflicting keywords"),
        ('[accounts.a]\nhelp_text = ""\n', 2, "accounts.a.help_text"),
        ('[accounts.a]\nopt_in = ["stop"]\n', 2, "conflicting keywords"),
    ],
)
def test_bad_files_name_the_line(tmp_path, text, line, fragment):
    path = write(tmp_path, text)
    with pytest.raises(PolicyFileError) as info:
        load_policy(path)
    message = str(info.value)
    assert str(path) in message and fragment in message
    if line is not None:
        assert f"line {line}:" in message
    else:
        assert "line" in message


def test_missing_file(tmp_path):
    with pytest.raises(PolicyFileError, match="cannot read"):
        load_policy(tmp_path / "nope.toml")


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "app", *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60)


def test_classify_command():
    result = run_cli("classify", "Opt-out!")
    assert result.returncode == 0
    assert json.loads(result.stdout) == {"intent": "opt_out", "matched": "optout", "rule": "keyword"}
    assert json.loads(run_cli("classify", "Stop by at 5").stdout)["intent"] == "review"


def test_classify_command_uses_the_configuration(tmp_path):
    # "pouce" is in no built-in pack; ARRETE, used here before, is the French pack's and applies to every reply
    env = {"OPTOUT_KEYWORDS_FILE": str(write(tmp_path, GOOD))}
    result = run_cli("classify", "pouce", "--account", "acme", env=env)
    assert result.returncode == 0 and json.loads(result.stdout)["intent"] == "opt_out"
    assert json.loads(run_cli("classify", "pouce", "--locale", "fr", env=env).stdout)["intent"] == "opt_out"
    assert json.loads(run_cli("classify", "pouce", env=env).stdout)["intent"] == "none"
    assert json.loads(run_cli("classify", "arrete", env=env).stdout)["intent"] == "opt_out"


def test_default_locales(tmp_path):
    assert load_policy(None).for_reply("x").locales == ("en", "es")
    assert load_policy(None, "fr").for_reply("x").locales == ("fr", "en")
    assert load_policy(write(tmp_path, GOOD), "fr,de").for_reply("other").texts.help == "Acme alerts. Reply STOP to stop."
    assert load_policy(write(tmp_path, GOOD), "fr").for_reply("other").texts.opt_out_confirmation == "Vous êtes désabonné."
    for bad in ("xx", "en,klingon"):
        with pytest.raises(PolicyFileError, match="OPTOUT_DEFAULT_LOCALES"):
            load_policy(None, bad)
        with pytest.raises(PolicyFileError, match="OPTOUT_DEFAULT_LOCALES"):
            load_policy(write(tmp_path, GOOD), bad)
    # a locale configured in the file may be a default one even without a built-in pack
    assert load_policy(write(tmp_path, GOOD + '\n[locales.nl]\nopt_out = ["afmelden"]\n'), "nl").for_reply(
        "x").classifier.classify("afmelden").intent is Intent.OPT_OUT


def test_classify_command_default_locales():
    # Spanish phrases apply to replies without a locale by default; not when the defaults say otherwise
    assert json.loads(run_cli("classify", "no más").stdout)["intent"] == "opt_out"
    env = {"OPTOUT_DEFAULT_LOCALES": "en"}
    assert json.loads(run_cli("classify", "no más", env=env).stdout)["intent"] == "none"
    assert json.loads(run_cli("classify", "ALTO", env=env).stdout)["intent"] == "opt_out"  # keywords: everywhere
    bad = run_cli("classify", "stop", env={"OPTOUT_DEFAULT_LOCALES": "xx"})
    assert bad.returncode == 2 and "OPTOUT_DEFAULT_LOCALES" in bad.stderr


def test_worker_refuses_to_start_with_a_bad_file(tmp_path):
    env = {"OPTOUT_KEYWORDS_FILE": str(write(tmp_path, '[default]\nopt_outt = ["x"]\n')),
           "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    result = run_cli("worker", env=env)
    assert result.returncode == 2
    assert "line 2" in result.stderr and "opt_outt" in result.stderr
