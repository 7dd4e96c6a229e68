"""Layers: dependencies run one way, and Faust, the Kafka clients and RocksDB only in the runtime.

    domain  <-  stream  <-  engine  <-  runtime
      ^  ^        ^                        |
      |  intake   +---  reports  <---------+ (runtime/web)

``records`` and ``settings`` (the shared vocabulary) sit beside ``domain``.
"""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[3] / "app"
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


# package (first folder under app/, or a loose module) -> the app packages it may import
SHARED = {"domain", "records", "settings"}
MAY_IMPORT = {
    "domain": {"domain"},
    "records": {"domain"},
    "settings": {"domain"},
    "intake": SHARED | {"intake"},
    "stream": SHARED | {"stream"},
    # reports read stored state through the store's Protocol (app.engine.ports.StorePort) only
    "reports": SHARED | {"stream", "reports", "engine.ports"},
    "engine": SHARED | {"stream", "intake", "engine"},
}


def _layer(name: str) -> str:
    parts = name.split(".")[1:]
    return "engine.ports" if parts[:2] == ["engine", "ports"] else parts[0] if parts else ""


def test_dependencies_run_one_way():
    offenders = []
    for path in APP.rglob("*.py"):
        rel = path.relative_to(APP)
        package = rel.parts[0].removesuffix(".py")
        allowed = MAY_IMPORT.get(package)
        if allowed is None:  # runtime, __main__: the outermost ring may import anything
            continue
        for name in imports(path):
            if name == "app" or not name.startswith("app."):
                continue
            layer = _layer(name)
            if layer not in allowed and layer.split(".")[0] not in allowed:
                offenders.append(f"{rel} imports {name}")
    assert not offenders, offenders


def test_app_holds_only_the_entry_point_and_the_shared_vocabulary():
    loose = sorted(p.name for p in APP.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py", "records.py", "settings.py"], loose


def test_no_two_modules_share_a_name():
    seen: dict[str, list[str]] = {}
    for path in APP.rglob("*.py"):
        if path.name != "__init__.py":
            seen.setdefault(path.name, []).append(str(path.relative_to(APP)))
    assert {n: p for n, p in seen.items() if len(p) > 1} == {}
