"""Command line: ``python -m app worker`` | ``python -m app create-topics``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from app.settings import get_settings
from app.topics_admin import TopologyError, ensure_topics


def _create_topics() -> int:
    settings = get_settings()
    try:
        asyncio.run(ensure_topics(settings))
    except TopologyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"topics ready on {settings.kafka_bootstrap_servers}")
    return 0


def _worker() -> int:
    settings = get_settings()
    code = _create_topics()
    if code:
        return code
    import faust

    from app.faust_app import build_pipeline

    pipeline = build_pipeline(settings)
    worker = faust.Worker(pipeline.app, loglevel=settings.log_level.upper(), quiet=True)
    worker.execute_from_commandline()  # exits the process
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description="SMS opt-out compliance stream processor")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("worker", help="run one worker (web server on OPTOUT_WEB_PORT)")
    sub.add_parser("create-topics", help="create the topics and check their partition counts")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
    if args.command == "worker":
        return _worker()
    return _create_topics()


if __name__ == "__main__":
    sys.exit(main())
