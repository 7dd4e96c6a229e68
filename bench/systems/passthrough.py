"""Baseline B, "passthrough": consume -> produce the same bytes (no parse, no lookup).

The floor cost of moving a record through Python + aiokafka; same client settings
and commit discipline (flush, then commit, once a second) as aiokafka_loop.py. Run:

    python bench/systems/passthrough.py --bootstrap H:P --input T --provider T --group G
"""

from __future__ import annotations

import asyncio
import signal
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from common import COMMIT_INTERVAL_S, log, parse_args


async def main() -> None:
    args = parse_args(__doc__.splitlines()[0], filter_=False)
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
    log(f"passthrough: consuming {args.input}")
    send, provider = producer.send, args.provider
    next_commit = time.monotonic() + COMMIT_INTERVAL_S
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=100, max_records=5000)
            if not batches:
                continue
            for messages in batches.values():
                for msg in messages:
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
