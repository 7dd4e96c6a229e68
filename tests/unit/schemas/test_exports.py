"""The JSON Schema files in schemas/json must match the pydantic models."""

from schemas import TOPIC_MODELS
from schemas.export import JSON_DIR, expected_files, main


def test_every_topic_has_an_export():
    assert {p.name for p in JSON_DIR.glob("*.schema.json")} == {f"{t}.schema.json" for t in TOPIC_MODELS}


def test_exports_match_the_models():
    stale = [str(path) for path, text in expected_files().items() if not path.exists() or path.read_text() != text]
    assert not stale, f"JSON Schema exports drifted; run `make schemas`: {stale}"
    assert main(["--check"]) == 0
