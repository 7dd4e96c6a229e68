"""The engine: batches in, outputs out, in an order it owns. No Faust, no Kafka client.

- :mod:`inputs` what flows in (input records, topic-partitions, acknowledgements);
- :mod:`ports` what the engine needs from a runtime (Protocols);
- :mod:`failures` what can go wrong in a step, each named by its cure;
- :mod:`phases` a routed partition's phase (closed, restoring, running) and its legal moves;
- :mod:`state` one partition's state: a write overlay over a durable store;
- :mod:`processor` per batch: routing, deciding, sends held until their replies are applied;
- :mod:`reply_gate` and :mod:`progress` replies before sends, across every worker, by offsets;
- :mod:`checkpoint` THE order: outputs, changelog, offsets, state;
- :mod:`loop` fetch, process, checkpoint, rebalance, recovery, rewind;
- :mod:`outage` one log line per outage, not per retry;
- :mod:`driver` an in-memory broker and runtime, for tests without Kafka.
"""
