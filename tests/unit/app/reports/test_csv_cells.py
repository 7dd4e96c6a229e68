"""One CSV cell function for every export, neutralising every formula a spreadsheet would run."""

import pytest

from app.reports.csv_cells import cell


def test_values_are_kept_and_none_is_empty():
    assert cell(None) == ""
    assert cell("plain") == "plain"
    assert cell("a=b") == "a=b"
    assert cell("  spaced") == "  spaced"  # leading spaces alone are harmless
    assert cell(42) == "42"
    assert cell({"a": 1}) == '{"a":1}'
    assert cell([1]) == "[1]"


@pytest.mark.parametrize("text", [
    "=1+1", "+1", "-1", "@SUM(A1)",
    "\uff1d1+1", "\uff0b1", "\uff0d1", "\uff20SUM(A1)",  # full-width = + - @
    " =1+1", "  @x", "\u3000=1",  # leading (ideographic) spaces
    "\t=1", "\r=1", "\n=1", "\n", "\tx", "\rx",  # tab, CR, LF
    "\u00a0+1",  # no-break space
])
def test_every_formula_start_is_neutralised(text):
    assert cell(text) == "'" + text


def test_negative_numbers_are_neutralised_too():
    assert cell(-5) == "'-5"  # a number cell starting with "-" is what a spreadsheet would evaluate
