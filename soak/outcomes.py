"""Reads the output topics (``read_committed``, as a downstream reader would) into the ledger.

chaos's :class:`~chaos.collector.LiveCollector` (the consumer, its partitions, ``drain``)
with a different record handler: no record is kept, each outcome is counted against its
send (``chaos.collector.send_id_of`` finds the send's id in each kind of output)."""

from __future__ import annotations

import asyncio
from collections import Counter

import orjson

from chaos.collector import LiveCollector, send_id_of
from chaos.generator import now_us
from soak.accounting import OUTCOMES, Ledger


class LedgerCollector(LiveCollector):
    def __init__(self, bootstrap: str, topics: dict[str, str], ledger: Ledger) -> None:
        """``topics``: kind ("provider", "suppressed", "deadletter", "consent") -> topic name."""
        super().__init__(bootstrap, topics)
        self.ledger = ledger
        self.totals: Counter[str] = Counter()  # records read per kind
        self.compliance = 0  # the service's own messages on provider (confirmations, HELP answers)
        self.replies_deadlettered = 0

    def handle(self, kind: str, raw: bytes | None) -> None:
        self.totals[kind] += 1
        if kind not in OUTCOMES:
            return  # consent: counted only
        try:
            value = orjson.loads(raw) if raw is not None else None
        except orjson.JSONDecodeError:
            value = None
        if not isinstance(value, dict):
            self.undecodable += 1
            return
        mid = send_id_of(kind, value)
        if mid is None and kind == "provider":
            self.compliance += 1
        elif mid is not None and mid.startswith("r-"):
            self.replies_deadlettered += 1
        else:
            self.ledger.outcome(kind, mid)

    async def _loop(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                batch = await self._consumer.getmany(timeout_ms=100, max_records=20000)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep reading
                self.error = exc
                await asyncio.sleep(0.5)
                continue
            if not batch:
                continue
            self.last_new_us = now_us()
            for tp, messages in batch.items():
                kind = self.kind_of[tp.topic]
                for message in messages:
                    self.handle(kind, message.value)
