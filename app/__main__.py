"""Command line.

    python -m app worker                 run one worker
    python -m app create-topics          create the topics, check partition counts
    python -m app classify "TEXT" [--account ID] [--locale LOCALE]
                                         how a reply would be classified (JSON)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys

from app.policy_file import PolicyFileError, load_policy
from app.runtime.topics import TopologyError, ensure_topics
from app.settings import get_settings


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
    try:
        load_policy(settings.keywords_file, settings.default_locales)
    except PolicyFileError as exc:
        print(f"error: invalid keyword configuration (OPTOUT_KEYWORDS_FILE):\n{exc}", file=sys.stderr)
        return 2
    code = _create_topics()
    if code:
        return code
    from app.runtime.worker import run_worker

    run_worker(settings)  # exits the process
    return 0


def _classify(text: str, account: str, locale: str | None) -> int:
    settings = get_settings()
    try:
        policy = load_policy(settings.keywords_file, settings.default_locales)
    except PolicyFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(policy.for_reply(account, locale).classifier.classify(text).to_json(), ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description="SMS opt-out compliance stream processor")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("worker", help="run one worker (web server on OPTOUT_WEB_PORT)")
    sub.add_parser("create-topics", help="create the topics and check their partition counts")
    classify = sub.add_parser("classify", help="print how a reply would be classified, as JSON")
    classify.add_argument("text")
    classify.add_argument("--account", default="default")
    classify.add_argument("--locale", default=None)
    args = parser.parse_args(argv)
    if args.command == "classify":
        return _classify(args.text, args.account, args.locale)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
    if args.command == "worker":
        return _worker()
    return _create_topics()


if __name__ == "__main__":
    sys.exit(main())
