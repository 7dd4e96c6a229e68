"""Peer, "quixstreams": the same filter as a Quix Streams application.

Runs with bench/.venv-quix/bin/python (Quix Streams in its own virtualenv).
Streaming DataFrame: JSON value (orjson, Quix's default) -> wrap sends to opted-out
numbers as {"reason": "opted_out", "message": <send>} -> stamp the output with the
current time -> produce to the provider or the suppressed topic (chosen per record).
Quix defaults otherwise
(at-least-once, commit every 5 s, idempotent producer). Run:

    bench/.venv-quix/bin/python bench/systems/quix_filter.py --bootstrap H:P --input T \
        --provider T --suppressed T --optouts FILE --group G --state-dir DIR
"""

from __future__ import annotations

import logging
import time

from common import load_optouts, log, parse_args
from quixstreams import Application


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    optouts = load_optouts(args.optouts)
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=args.state_dir or ".quix-state",
        loglevel=logging.WARNING,
        use_changelog_topics=False,  # stateless job
    )
    source = app.topic(args.input, value_deserializer="json", key_deserializer="bytes")
    provider = app.topic(args.provider, value_serializer="json", key_serializer="bytes")
    suppressed = app.topic(args.suppressed, value_serializer="json", key_serializer="bytes")

    def check(send: dict) -> dict:
        if send["to"] in optouts:
            return {"reason": "opted_out", "message": send}
        return send

    def destination(value, key, timestamp, headers):  # type: ignore[no-untyped-def]
        return suppressed if "reason" in value else provider

    sdf = app.dataframe(source)
    sdf = sdf.apply(check)
    # Quix gives an output record the input record's timestamp; stamp it with the time it
    # is produced instead, as the other systems' producers do (the throughput figure is
    # computed from output CreateTime).
    sdf = sdf.set_timestamp(lambda value, key, timestamp, headers: time.time_ns() // 1_000_000)
    sdf.to_topic(destination)
    log(f"quix_filter: {len(optouts)} opted-out numbers; consuming {args.input}")
    app.run()


if __name__ == "__main__":
    main()
