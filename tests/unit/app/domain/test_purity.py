"""The domain core must not import Kafka or Faust."""

import ast
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[4] / "app" / "domain"
FORBIDDEN = {"faust", "aiokafka", "kafka", "mode", "rocksdict"}


def test_domain_imports_no_kafka_or_faust():
    for path in DOMAIN.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
