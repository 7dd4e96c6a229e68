"""The per-worker counters (app/stream/counters.py): every counter is declared once; counting
one that is not is an error, and no ``stats.count(...)`` in app/ names an undeclared one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app.stream.counters import COUNTERS, Stats, UnknownCounter

APP = Path(__file__).resolve().parents[4] / "app"


def counted_names() -> dict[str, list[str]]:
    """name -> where: the counter names of every ``<...>stats.count(<name>)`` call in app/ (a
    name may be a conditional expression of names); a name that is not a literal fails."""
    found: dict[str, list[str]] = {}
    for path in sorted(APP.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "count"):
                continue
            receiver = node.func.value
            receiver_name = receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", "")
            if receiver_name != "stats":
                continue
            where = f"{path.relative_to(APP.parent).as_posix()}:{node.lineno}"
            pending = [node.args[0] if node.args else None]
            while pending:
                arg = pending.pop()
                if isinstance(arg, ast.IfExp):
                    pending += [arg.body, arg.orelse]
                elif isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.setdefault(arg.value, []).append(where)
                else:
                    raise AssertionError(f"{where}: a counter name that is not a literal cannot be checked")
    return found


def test_every_counter_counted_in_app_is_declared() -> None:
    counted = counted_names()
    assert "replays_skipped" in counted and "forwarded" in counted  # the search finds them
    assert {name: where for name, where in counted.items() if name not in COUNTERS} == {}


def test_every_declared_counter_is_counted_somewhere() -> None:
    assert set(COUNTERS) - set(counted_names()) == set()  # else it would read 0 for ever


def test_an_unknown_counter_is_an_error() -> None:
    stats = Stats()
    with pytest.raises(UnknownCounter, match="replay_skipped"):
        stats.count("replay_skipped")  # type: ignore[arg-type]  # misspelt
    assert "replay_skipped" not in stats.counts and sum(stats.counts.values()) == 0


def test_the_snapshot_shows_every_counter_in_order() -> None:
    stats = Stats()
    stats.count("replays_skipped")
    stats.count("forwarded", 3)
    snap = stats.snapshot()
    assert list(snap) == [*COUNTERS, "suppressed"]
    assert snap["replays_skipped"] == 1 and snap["forwarded"] == 3 and stats.forwarded == 3
    assert len(set(COUNTERS)) == len(COUNTERS)
    with pytest.raises(AttributeError):
        _ = stats.forwarded_total
