"""The ``GET /stats`` contract (app/reports/stats_contract.py): what render() really returns,
for populated and for empty figures, has exactly the declared keys at every level (none
missing, none extra) and the declared types; the check the dashboard uses refuses any other
shape."""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import pytest
from typing_extensions import is_typeddict

from app.domain.masking import redact
from app.reports import stats_answer
from app.reports.stats_contract import StatsAnswer, StatsFigures, check_answer, check_figures
from app.runtime.web.errors import dumps
from app.stream import figures, review_queue
from tests.unit.app.runtime.web.test_reviews_api import item
from tests.unit.app.runtime.web.test_stats_api import NOW_MS, tally

HOUR_MS = 3_600_000


def mismatches(value: Any, shape: Any, where: str = "") -> list[str]:
    """Where ``value`` is not of the declared ``shape``: a TypedDict's keys exactly (walked with
    ``typing.get_type_hints``, independently of pydantic), and the type of every leaf (a bool is
    not an int, an int not a float: render() makes each exactly)."""
    if is_typeddict(shape):
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not an object"]
        hints = get_type_hints(shape)
        out = [f"{where}.{k}: missing" for k in sorted(hints.keys() - value.keys())]
        out += [f"{where}.{k}: not declared" for k in sorted(value.keys() - hints.keys())]
        for k in sorted(hints.keys() & value.keys()):
            out += mismatches(value[k], hints[k], f"{where}.{k}")
        return out
    origin, args = get_origin(shape), get_args(shape)
    if origin in (typing.Union, types.UnionType):
        each = [mismatches(value, option, where) for option in args]
        return [] if [] in each else min(each, key=len)
    if origin is Literal:
        return [] if value in args else [f"{where}: {value!r} not in {args}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__}, not a list"]
        return [m for n, v in enumerate(value) for m in mismatches(v, args[0], f"{where}[{n}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not an object"]
        return [m for k, v in value.items() for m in mismatches(k, args[0], f"{where} key") + mismatches(
            v, args[1], f"{where}[{k!r}]")]
    if shape is type(None):
        return [] if value is None else [f"{where}: {value!r}, not null"]
    assert shape in (int, float, str, bool), shape  # a declaration this walk does not know
    return [] if type(value) is shape else [f"{where}: {type(value).__name__}, not {shape.__name__}"]


def populated() -> StatsFigures:
    """Something in every part: totals of every kind, percentiles, an oldest review item,
    prevented sends on two days, points in both series."""
    table: dict = {}
    counted = tally(account="+14155550100")
    counted.review_queued = 1
    figures.add(table, counted, NOW_MS)
    figures.add(table, tally(forwarded=5, account="beta"), NOW_MS - 30 * HOUR_MS)
    assert review_queue.enqueue(table, item("+14155550171", "r1", NOW_MS - 1000), 100)
    merged = stats_answer.merge(stats_answer.empty(), stats_answer.read(table, NOW_MS))
    return stats_answer.render(merged, NOW_MS, label=redact)


def empty() -> StatsFigures:
    return stats_answer.render(stats_answer.empty(), NOW_MS)


def as_served(rendered: StatsFigures) -> dict:
    """As app/runtime/web/stats_api.py answers it, through JSON."""
    return json.loads(dumps({"scope": "cluster", "as_of": "2026-11-29T13:58:40+00:00",
                             "partitions": {"covered": list(range(8)), "count": 8}, **rendered}))


def test_populated_figures_fill_every_part_of_the_answer():
    out = populated()
    assert out["since"] and out["consent_events"] and out["prevented_sends"][1]["by_account"]
    assert all(out["totals"][k] for k in out["totals"])
    assert None not in out["time_to_honour"].values() and None not in out["confirmation_delay"].values()
    assert out["review_queue"]["oldest"] and None not in out["review_queue"]["oldest"].values()
    assert len(out["series"]["per_minute"]) == 1 and len(out["series"]["per_hour"]) == 2
    assert len(out["prevented_sends"]) == 2


@pytest.mark.parametrize("make", [populated, empty])
def test_render_gives_exactly_the_declared_shape(make):
    out = make()
    assert mismatches(out, StatsFigures) == []
    assert check_figures(out) == out
    served = as_served(out)
    assert mismatches(served, StatsAnswer) == []
    assert check_answer(served) == served


def test_the_empty_answer_has_its_nulls_where_declared():
    out = empty()
    assert out["since"] is None and out["review_queue"] == {"pending": 0, "oldest": None}
    assert out["time_to_honour"] == {"count": 0, "p50_s": None, "p99_s": None, "max_s": None}
    assert out["consent_events"] == out["prevented_sends"] == out["series"]["per_minute"] == []


def test_a_review_item_without_an_event_time_is_still_the_contracts():
    table: dict = {}
    queued = item("+14155550171", "r1", NOW_MS + 1000)
    del queued["event_time"]
    assert review_queue.enqueue(table, queued, 100)
    out = stats_answer.render(stats_answer.merge(stats_answer.empty(), stats_answer.read(table, NOW_MS)), NOW_MS)
    assert out["review_queue"]["oldest"]["event_time"] is None and out["review_queue"]["oldest"]["age_s"] is None
    assert mismatches(out, StatsFigures) == [] and check_figures(out) == out


@pytest.mark.parametrize("change", [
    lambda a: a.pop("series"),
    lambda a: a.update(sends={}),
    lambda a: a["totals"].pop("review_queued"),
    lambda a: a["totals"].update(optouts=1),
    lambda a: a["confirmation_delay"].update(limit_ms=300_000),
    lambda a: a["review_queue"]["oldest"].update(deadline_ms=1),
    lambda a: a["review_queue"]["oldest"].update(overdue=1),
    lambda a: a["consent_events"][0].pop("count"),
    lambda a: a["prevented_sends"][0]["by_account"].update(x="1"),
    lambda a: a["series"]["per_minute"][0].update(t=NOW_MS),
    lambda a: a["series"]["per_hour"][0].update(ts="2026-11-29T13:00:00+00:00"),
    lambda a: a["time_to_honour"].update(p99_s=True),
    lambda a: a["partitions"].pop("covered"),
    lambda a: a.update(scope="worker"),
])
def test_the_check_refuses_a_key_missing_or_extra_or_of_another_type_at_any_level(change):
    answer = as_served(populated())
    change(answer)
    assert mismatches(answer, StatsAnswer) != []
    with pytest.raises(ValueError):
        check_answer(answer)


def test_the_check_takes_an_int_where_a_float_is_declared():
    answer = as_served(populated())
    answer["review_queue"]["oldest"]["time_left_s"] = 90  # JSON may write 90.0 as 90
    assert check_answer(answer)["review_queue"]["oldest"]["time_left_s"] == 90


def test_the_example_in_the_docs_is_the_contracts():
    text = (Path(__file__).resolve().parents[4] / "docs" / "http" / "stats.md").read_text()
    example = json.loads(text.split("$ curl -s localhost:6066/stats\n", 1)[1].split("```", 1)[0])
    assert mismatches(example, StatsAnswer) == []
    assert check_answer(example) == example
