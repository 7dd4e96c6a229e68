"""Faust agents: thin adapters from Kafka records to the routing and deciding steps."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.faust_app import Pipeline


def register_agents(pipeline: Pipeline) -> None:
    from app.agents.decide import register_decide
    from app.agents.route import register_route

    register_route(pipeline)
    register_decide(pipeline)
