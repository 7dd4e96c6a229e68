"""CSV cells for the exports (opt-out listing, evidence packets): the one place that
turns a value into text a spreadsheet will not run as a formula."""

from __future__ import annotations

import orjson

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """A CSV cell: nothing for ``None``, JSON for a mapping; text a spreadsheet
    would take for a formula starts with ``'``."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, dict):
        text = orjson.dumps(value).decode()
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text
