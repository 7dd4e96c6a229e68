"""One log line per outage state change, not one per retry."""

from __future__ import annotations

import logging


class Outage:
    FAILING = "%s failing (%s); retrying quietly until it recovers"
    RECOVERED = "%s recovered after %.1f s and %d retries"

    def __init__(self, log: logging.Logger, what: str) -> None:
        self.log = log
        self.what = what
        self.failing_since_ms: int | None = None
        self.retries = 0
        self.last_error: str | None = None

    def failed(self, now_ms: int, exc: BaseException) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"
        if self.failing_since_ms is None:
            self.failing_since_ms = now_ms
            self.retries = 0
            self.log.warning(self.FAILING, self.what, self.last_error)
        else:
            self.retries += 1

    def ok(self, now_ms: int) -> None:
        if self.failing_since_ms is not None:
            self.log.warning(self.RECOVERED, self.what, (now_ms - self.failing_since_ms) / 1000, self.retries)
            self.failing_since_ms = None
            self.retries = 0

    def backoff_s(self) -> float:
        return min(0.1 * 2 ** min(self.retries, 6), 5.0)
