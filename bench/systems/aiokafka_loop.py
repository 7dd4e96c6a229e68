"""Baseline A, "aiokafka loop": the Python limit for this job.

consume (aiokafka) -> orjson parse -> `to` in an in-memory set of opted-out numbers
-> produce the original bytes to the provider topic, or
   {"reason": "opted_out", "message": <send>} to the suppressed topic.

At-least-once like the project: at most once a second (COMMIT_INTERVAL_S) the
producer is flushed, then the input offsets are committed. Producer settings match
the project's (acks=all, linger 1 ms). Run:

    python bench/systems/aiokafka_loop.py --bootstrap H:P --input T --provider T \
        --suppressed T --optouts FILE --group G
"""

from __future__ import annotations

import asyncio
import signal
import time

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from common import COMMIT_INTERVAL_S, load_optouts, log, parse_args


async def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    optouts = load_optouts(args.optouts)
    consumer = AIOKafkaConsumer(
        args.input,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, acks="all", linger_ms=1)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await producer.start()
    await consumer.start()
    log(f"aiokafka_loop: {len(optouts)} opted-out numbers; consuming {args.input}")
    loads, dumps = orjson.loads, orjson.dumps
    send = producer.send
    provider, suppressed = args.provider, args.suppressed
    next_commit = time.monotonic() + COMMIT_INTERVAL_S
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=100, max_records=5000)
            if not batches:
                continue
            for messages in batches.values():
                for msg in messages:
                    send_request = loads(msg.value)
                    if send_request["to"] in optouts:
                        out = dumps({"reason": "opted_out", "message": send_request})
                        await send(suppressed, out, key=msg.key)
                    else:
                        await send(provider, msg.value, key=msg.key)
            if time.monotonic() >= next_commit:
                await producer.flush()  # outputs on the broker before the input offsets are committed
                await consumer.commit()
                next_commit = time.monotonic() + COMMIT_INTERVAL_S
    finally:
        await producer.flush()
        try:
            await consumer.commit()
        except Exception as exc:  # e.g. stopped before any partition was assigned
            log(f"final commit skipped: {exc!r}")
        await consumer.stop()
        await producer.stop()


if __name__ == "__main__":
    asyncio.run(main())
