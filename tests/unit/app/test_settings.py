"""Settings that refuse mistakes: one line per problem, naming the variable, never a value."""

from __future__ import annotations

import pytest

from app.__main__ import main
from app.settings import Settings, SettingsError, get_settings, load_settings, unknown_variables, variable_names


@pytest.fixture
def env(monkeypatch):
    for name in [n for n in __import__("os").environ if n.startswith("OPTOUT_")]:
        monkeypatch.delenv(name)
    get_settings.cache_clear()  # the command line reads the environment of this test, not a cached one
    yield _setter(monkeypatch)
    get_settings.cache_clear()


def _setter(monkeypatch):
    def set_(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)
            get_settings.cache_clear()
    return set_


def problems(env_set, **values) -> list[str]:
    env_set(**values)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    return caught.value.problems


def test_a_misspelt_variable_is_an_error_naming_the_closest(env):
    assert problems(env, OPTOUT_PARTITON="4") == ["OPTOUT_PARTITON: no such setting; did you mean OPTOUT_PARTITIONS?"]


def test_a_value_that_is_not_a_number_is_one_line(env):
    (line,) = problems(env, OPTOUT_PARTITIONS="abc")
    assert line.startswith("OPTOUT_PARTITIONS: ") and "\n" not in line and "abc" not in line


@pytest.mark.parametrize(("code", "hint"), [("UK", "GB"), ("XX", None)])
def test_an_unknown_region_is_refused_with_a_hint(env, code, hint):
    (line,) = problems(env, OPTOUT_DEFAULT_REGION=code)
    assert line.startswith("OPTOUT_DEFAULT_REGION: ") and (hint is None or f"did you mean {hint}?" in line)


def test_regions_and_levels_are_normalised(env):
    env(OPTOUT_DEFAULT_REGION="gb", OPTOUT_LOG_LEVEL="WARNING")
    settings = load_settings()
    assert settings.default_region == "GB" and settings.log_level == "warning"
    assert problems(env, OPTOUT_LOG_LEVEL="loud")[0].startswith("OPTOUT_LOG_LEVEL: ")


def test_a_secret_is_never_echoed(env):
    lines = problems(env, OPTOUT_VIEWER_TOKEN="tiny-secret", OPTOUT_ADMIN_TOKEN="x" * 20, OPTOUT_CLUSTER_SECRET="x" * 20)
    assert all("tiny-secret" not in line and "x" * 20 not in line for line in lines)
    assert any(line.startswith("OPTOUT_VIEWER_TOKEN must be at least 16 bytes") for line in lines)


def test_sizes_and_intervals_must_be_positive(env):
    for name in ("OPTOUT_COMMIT_INTERVAL_MS", "OPTOUT_ROCKSDB_MAX_WRITE_BUFFERS", "OPTOUT_WEB_PORT"):
        assert problems(env, **{name: "0"})[0].startswith(f"{name}: ")
        env(**{name: "1" if name != "OPTOUT_ROCKSDB_MAX_WRITE_BUFFERS" else "2"})


def test_bind_address_and_advertised_url_are_apart_and_the_former_name_still_binds(env):
    env(OPTOUT_WEB_HOST="0.0.0.0", OPTOUT_WEB_URL="http://worker-1.optout:6066", OPTOUT_WEB_PORT="6066")
    settings = load_settings()
    assert settings.web_bind == "0.0.0.0" and settings.web_url == "http://worker-1.optout:6066"
    assert Settings(web_bind="10.0.0.5", web_port=7000, advertised_url=None).web_url == "http://10.0.0.5:7000"
    assert problems(env, OPTOUT_WEB_URL="worker-1:6066")[0].startswith("OPTOUT_WEB_URL: ")


def test_every_variable_the_project_documents_is_known():
    known = set(variable_names())
    assert {"OPTOUT_WEB_BIND", "OPTOUT_WEB_HOST", "OPTOUT_WEB_URL", "KAFKA_BOOTSTRAP_SERVERS",
            "OPTOUT_CLUSTER_SECRET"} <= known
    assert unknown_variables({"OPTOUT_WEB_URL": "x", "PATH": "/bin", "OPTOUT_UPDATE_SCREENSHOT": "1"}) == []


def test_the_command_line_says_each_problem_on_one_line_and_exits_2(env, capsys):
    env(OPTOUT_PARTITON="4", OPTOUT_DEFAULT_REGION="UK")
    assert main(["check-config"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error: OPTOUT_") for line in err)


def test_check_config_masks_secrets(env, capsys):
    env(OPTOUT_VIEWER_TOKEN="a-viewer-token-of-20", OPTOUT_CLUSTER_SECRET="the-cluster-secret-20")
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert '"viewer_token": "(set)"' in out and '"cluster_secret": "(set)"' in out and "a-viewer" not in out


def test_import_refuses_an_unknown_region(env, tmp_path, capsys):
    (tmp_path / "list.csv").write_text("phone\n07700 900123\n")
    assert main(["import-optouts", str(tmp_path / "list.csv"), "--account", "a", "--source-format", "csv",
                 "--region", "UK", "--dry-run"]) == 2
    assert "did you mean GB?" in capsys.readouterr().err
