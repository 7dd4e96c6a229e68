"""docs/configuration.md is what scripts/settings_doc.py makes of the settings object, every
setting has a description, and the variables the README and docs/ name are settings."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

from app.settings import TOOLING_VARIABLES, Settings, variable_names

ROOT = Path(__file__).resolve().parents[3]


def _settings_doc():
    spec = importlib.util.spec_from_file_location("settings_doc", ROOT / "scripts" / "settings_doc.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("settings_doc", module)
    spec.loader.exec_module(module)
    return module


doc = _settings_doc()


def test_the_configuration_reference_is_current():
    text = doc.PAGE.read_text(encoding="utf-8")
    found, expected = doc.current(text), doc.block()
    assert found, f"docs/configuration.md has no {doc.START} ... {doc.END} block"
    assert found == expected, f"docs/configuration.md is stale: run {doc.COMMAND}"


def test_every_setting_is_described():
    missing = [name for name, info in Settings.model_fields.items() if not (info.description or "").strip()]
    assert not missing, f"add description= to these fields of app/settings.py: {missing}"


def test_every_variable_is_in_the_reference():
    block = doc.block()
    absent = [name for name in variable_names() if name not in TOOLING_VARIABLES and f"`{name}`" not in block]
    assert not absent, absent


def test_secrets_are_marked():
    block = doc.block()
    for name in ("OPTOUT_ADMIN_TOKEN", "OPTOUT_VIEWER_TOKEN", "OPTOUT_CLUSTER_SECRET", "OPTOUT_KAFKA_SASL_PASSWORD"):
        row = next(line for line in block.splitlines() if line.startswith(f"| `{name}` |"))
        assert "**Secret**" in row, row
    row = next(line for line in block.splitlines() if line.startswith("| `OPTOUT_KAFKA_SASL_PASSWORD_FILE` |"))
    assert "**Secret file**" in row
    assert "**Secret" not in next(line for line in block.splitlines() if line.startswith("| `OPTOUT_APP_ID` |"))


def test_aliases_are_listed_with_their_setting():
    block = doc.block()
    assert "| `OPTOUT_WEB_BIND`<br>(or `OPTOUT_WEB_HOST`) |" in block
    assert "| `KAFKA_BOOTSTRAP_SERVERS`<br>(or `OPTOUT_KAFKA_BOOTSTRAP_SERVERS`) |" in block
    assert "| `OPTOUT_WEB_URL` |" in block and "OPTOUT_ADVERTISED_URL" not in block


def test_the_readmes_ten_settings_have_their_real_defaults():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## The ten settings most people touch"):]
    section = section[:section.index("\n## ", 1)]
    rows = re.findall(r"^\| `([A-Z_]+)` \| (.*?) \| .* \|$", section, re.M)
    assert len(rows) == 10, rows
    by_variable = {n: (field, Settings.model_fields[field]) for n, field in variable_names().items() if field}
    for variable, shown in rows:
        field, info = by_variable[variable]
        assert shown == doc.default(field, info), f"README: {variable}'s default is {doc.default(field, info)}"


# a variable named in the documentation that no setting reads is a stale name (OPTOUT_*, OPTOUT_*_TOPIC and
# OPTOUT_KAFKA_SSL_*_FILE stand for several)
NAMED = re.compile(r"\bOPTOUT_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_]*\*)")


def test_every_optout_variable_the_docs_name_is_a_setting():
    known = set(variable_names())
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    unknown = sorted({f"{page.relative_to(ROOT)}: {name}" for page in pages
                      for name in NAMED.findall(page.read_text(encoding="utf-8")) if name not in known})
    assert not unknown, unknown
