"""Every relative link of README.md and docs/**/*.md resolves: the file (or folder) exists
in the repository, and an anchor (``page.md#heading``, ``#heading``) names a heading of that
page, as GitHub makes heading anchors, or an explicit ``<a id="...">``."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[3]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target) and ![alt](target), the target up to a space (a title may follow) or ")"
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
EXPLICIT = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")


def prose(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks, code spans blanked."""
    lines, fenced = [], False
    for n, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((n, CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links: their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    text = page.read_text(encoding="utf-8")
    found: set[str] = set(EXPLICIT.findall(text))
    seen: dict[str, int] = {}
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        heading = None if fenced else HEADING.match(line)
        if heading:
            base = slug(heading.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def links(page: Path) -> list[tuple[int, str]]:
    out = []
    for n, line in prose(page.read_text(encoding="utf-8")):
        out += [(n, m.group(1)) for m in LINK.finditer(line)]
        out += [(n, m.group(1)) for m in REFERENCE.finditer(line)]
    return out


def problem(page: Path, target: str) -> str | None:
    """What is wrong with a link from ``page`` to ``target``, or None."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
        return None
    path_part, _, anchor = target.partition("#")
    resolved = (page.parent / unquote(path_part)).resolve() if path_part else page
    if ROOT not in resolved.parents and resolved != ROOT:
        return "points outside the repository"
    if not resolved.exists():
        return f"no such file: {resolved.relative_to(ROOT)}"
    if anchor:
        if resolved.is_dir() or resolved.suffix != ".md":
            return f"an anchor into {resolved.relative_to(ROOT)}, which is not a Markdown page"
        if unquote(anchor) not in anchors(resolved):
            return f"no heading #{anchor} in {resolved.relative_to(ROOT)}"
    return None


def test_the_pages_are_found():
    names = {p.relative_to(ROOT).as_posix() for p in PAGES}
    assert {"README.md", "docs/README.md", "docs/configuration.md", "docs/http/README.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_every_relative_link_resolves(page: Path):
    broken = [f"{page.relative_to(ROOT)}:{n}: ({target}) {why}"
              for n, target in links(page) if (why := problem(page, target)) is not None]
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_every_docs_page_is_in_the_index():
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    listed = {(ROOT / "docs" / target.partition("#")[0]).resolve() for _, target in links(ROOT / "docs" / "README.md")}
    missing = [p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "docs").glob("*.md"))
               if p.name != "README.md" and p.resolve() not in listed]
    assert not missing, f"docs/README.md does not list {missing}"
    assert "http/README.md" in index


# the checker itself


def test_slugs_are_githubs():
    assert slug("Soak: memory under steady load (`make soak`)") == "soak-memory-under-steady-load-make-soak"
    assert slug("No clock decides, no broker hiccup opens a gap (issue 18)") == \
        "no-clock-decides-no-broker-hiccup-opens-a-gap-issue-18"
    assert slug("A reply's locales") == "a-replys-locales"
    assert slug("To change ...") == "to-change-"
    assert slug("Importing opt-out lists: `python -m app import-optouts`") == \
        "importing-opt-out-lists-python--m-app-import-optouts"


def test_a_broken_link_or_anchor_is_found(tmp_path: Path):
    page = ROOT / "docs" / "README.md"
    assert problem(page, "nowhere.md") is not None
    assert problem(page, "architecture.md#no-such-heading") is not None
    assert problem(page, "architecture.md#the-rules-that-keep-the-promise") is None
    assert problem(page, "https://example.com/x") is None
    text = "[a](x.md) `[b](y.md)`\n```\n[c](z.md)\n```\n![d](img/e.png \"title\")\n"
    found = [t for _, line in prose(text) for t in (m.group(1) for m in LINK.finditer(line))]
    assert found == ["x.md", "img/e.png"]
