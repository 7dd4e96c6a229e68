"""Argument parsing and signal handling shared by the baseline scripts (stdlib only,
so the Quix script can use it from its own virtualenv)."""

from __future__ import annotations

import argparse
import signal
import sys

# At-least-once: outputs are flushed, then input offsets committed, at most this often
# (a synchronous commit per fetched batch costs ~6 ms on the local broker).
COMMIT_INTERVAL_S = 1.0


def parse_args(description: str, *, filter_: bool = True) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--input", required=True, help="topic of send requests")
    parser.add_argument("--provider", required=True, help="topic for cleared sends")
    if filter_:
        parser.add_argument("--suppressed", required=True, help="topic for sends to opted-out numbers")
        parser.add_argument("--optouts", required=True, help="file with one opted-out E.164 number a line")
    parser.add_argument("--group", required=True, help="consumer group")
    parser.add_argument("--state-dir", default=None)
    return parser.parse_args()


def load_optouts(path: str) -> set[str]:
    with open(path, encoding="ascii") as fh:
        return {line.strip() for line in fh if line.strip()}


def on_term(callback) -> None:  # type: ignore[no-untyped-def]
    """Run ``callback`` on SIGTERM/SIGINT (e.g. set a stop flag)."""

    def handler(signum, frame):  # type: ignore[no-untyped-def]
        callback()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
