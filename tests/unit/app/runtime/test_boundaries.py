"""Layers: Faust, the Kafka clients and RocksDB only in the runtime package."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[4] / "app"
RUNTIME_ONLY = {"faust", "mode", "aiokafka", "rocksdict", "aiohttp"}
ALLOWED_EVERYWHERE = {"aiokafka.partitioner"}  # murmur2: a pure function, the partitioner's contract


def imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_only_the_runtime_imports_faust_kafka_clients_or_rocksdb():
    offenders = []
    for path in APP.rglob("*.py"):
        if "runtime" in path.relative_to(APP).parts:
            continue
        for name in imports(path):
            if name.split(".")[0] in RUNTIME_ONLY and name not in ALLOWED_EVERYWHERE:
                offenders.append(f"{path.relative_to(APP)} imports {name}")
    assert not offenders, offenders


def test_the_engine_imports_no_runtime():
    for path in (APP / "engine").glob("*.py"):
        for name in imports(path):
            assert not name.startswith("app.runtime"), f"{path.name} imports {name}"
