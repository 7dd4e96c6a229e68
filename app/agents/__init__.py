"""Kafka adapters: the batch processor on the worker's consumer, and the reply-first gate."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.faust_app import Pipeline


def register_agents(pipeline: Pipeline) -> None:
    from app.agents.batch import install_batch_processing
    from app.agents.reply_first import ReplyFirstGate

    gate = ReplyFirstGate(pipeline)
    install_batch_processing(pipeline, gate)  # before anything creates app.consumer
    gate.install()
