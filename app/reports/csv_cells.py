"""CSV cells for the exports (opt-out listing, evidence packets): the one place that
turns a value into text a spreadsheet will not run as a formula.

A spreadsheet runs a cell as a formula when it starts with ``=``, ``+``, ``-`` or ``@``,
also after leading spaces or line breaks, and also in their full-width forms (``＝＋－＠``,
which some spreadsheets fold to ASCII); a leading tab, CR or LF can smuggle one past a
check. So the check is made on the NFKC form of the text without its leading whitespace,
and a cell that starts with a tab, CR or LF is neutralised too.
"""

from __future__ import annotations

import unicodedata

import orjson

FORMULA_START = ("=", "+", "-", "@")


def _risky(text: str) -> bool:
    if not text:
        return False
    if text[0] in "\t\r\n":
        return True
    return unicodedata.normalize("NFKC", text).lstrip().startswith(FORMULA_START)


def cell(value: object) -> str:
    """A CSV cell: nothing for ``None``, JSON for a mapping; text a spreadsheet could take
    for a formula starts with ``'``."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, dict):
        text = orjson.dumps(value).decode()
    else:
        text = str(value)
    return "'" + text if _risky(text) else text
