"""The bench table of docs/performance.md (between its bench: markers) is the table
bench/report.py makes of bench/results/latest.json: copied, never written by hand."""

from __future__ import annotations

import json
from pathlib import Path

from bench.report import markdown

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "docs" / "performance.md"
START, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def expected_block() -> str:
    table = markdown(json.loads((ROOT / "bench" / "results" / "latest.json").read_text(encoding="utf-8")))
    return f"{START}\n{table[table.index('| system'):].rstrip()}\n{END}"


def test_the_bench_block_is_latest_json():
    text = PAGE.read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1
    found = text[text.index(START):text.index(END) + len(END)]
    expected = expected_block()
    if found != expected:
        print(f"docs/performance.md: replace the block between the markers with\n\n{expected}\n")
    assert found == expected, "docs/performance.md's bench table differs from bench/results/latest.json (printed)"


def test_the_latest_md_is_latest_json_too():
    text = (ROOT / "bench" / "results" / "latest.md").read_text(encoding="utf-8")
    assert text == markdown(json.loads((ROOT / "bench" / "results" / "latest.json").read_text(encoding="utf-8")))
