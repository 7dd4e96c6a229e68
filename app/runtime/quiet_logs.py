"""One log line per outage, not one per retry.

aiokafka logs every failed connection attempt (thousands a minute while the broker
is down). This filter lets the first record of each kind through, holds back
repeats of the same message for ``window_s`` seconds, and then says how many it held
back. The engine's own retries log through :class:`app.engine.outage.Outage`.
"""

from __future__ import annotations

import logging
import time


class CollapseRepeats(logging.Filter):
    def __init__(self, window_s: float = 60.0) -> None:
        super().__init__()
        self.window_s = window_s
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}  # (logger, template) -> (first, held back)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith("aiokafka"):
            return True
        key = (record.name, str(record.msg))
        now = time.monotonic()
        first, held = self._seen.get(key, (float("-inf"), 0))
        if now - first >= self.window_s:
            if held:
                record.msg = f"{record.msg} ({held} similar message(s) in the last {self.window_s:.0f} s not shown)"
            self._seen[key] = (now, 0)
            if len(self._seen) > 1000:  # bounded: forget the oldest kinds
                for old in sorted(self._seen, key=lambda k: self._seen[k][0])[:500]:
                    del self._seen[old]
            return True
        self._seen[key] = (first, held + 1)
        return False


_COLLAPSE = CollapseRepeats()


def install(root: logging.Logger | None = None) -> None:
    """On every handler of the root logger (aiokafka's records propagate there)."""
    for handler in (root or logging.getLogger()).handlers:
        if _COLLAPSE not in handler.filters:
            handler.addFilter(_COLLAPSE)
