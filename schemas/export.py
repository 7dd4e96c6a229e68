"""Export every topic model as JSON Schema: ``python -m schemas.export [--check]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from schemas import TOPIC_MODELS

JSON_DIR = Path(__file__).parent / "json"


def render(topic: str) -> str:
    schema = TOPIC_MODELS[topic].model_json_schema(by_alias=True)
    schema["$id"] = f"{topic}.schema.json"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def expected_files() -> dict[Path, str]:
    return {JSON_DIR / f"{topic}.schema.json": render(topic) for topic in TOPIC_MODELS}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for path, text in expected_files().items():
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if check and stale:
        print("JSON Schema exports drifted from the models; run `python -m schemas.export`:", file=sys.stderr)
        for path in stale:
            print(f"  {path}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
