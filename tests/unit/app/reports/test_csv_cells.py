"""One CSV cell function for every export."""

from app.reports.csv_cells import cell


def test_formula_starts_are_quoted_and_values_kept():
    assert cell(None) == ""
    assert cell("=1+1") == "'=1+1"
    for start in ("+", "-", "@", "\t", "\r"):
        assert cell(start + "x") == "'" + start + "x"
    assert cell("plain") == "plain"
    assert cell(42) == "42"
    assert cell({"a": 1}) == '{"a":1}'
    assert cell([1]) == "[1]"
