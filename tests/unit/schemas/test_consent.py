"""sms.consent: its ``source`` values and the ``source`` and ``rule`` descriptions are the declaration's
(app/domain/keyword_tiers.py)."""

from typing import get_args

from app.domain import keyword_tiers
from schemas import ConsentRecord


def test_the_source_values_are_the_declared_sources():
    assert get_args(ConsentRecord.model_fields["source"].annotation) == tuple(keyword_tiers.SOURCES)


def test_source_and_rule_are_described_from_the_declaration():
    fields = ConsentRecord.model_fields
    assert fields["source"].description == keyword_tiers.source_description()
    assert fields["rule"].description == keyword_tiers.rule_description()
    for entry in keyword_tiers.RULES:
        if entry.rule is not None:
            assert f"{entry.rule}" in fields["rule"].description and entry.matches in fields["rule"].description
    for source in keyword_tiers.SOURCES:
        assert f"{source}: " in fields["source"].description
