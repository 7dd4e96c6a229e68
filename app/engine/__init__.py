"""The engine: batches in, outputs out, in an order it owns. No Faust, no Kafka client.

- :mod:`records` what flows through (input records, topic-partitions);
- :mod:`ports` what the engine needs from a runtime (Protocols);
- :mod:`state` one partition's state: a write overlay over a durable store;
- :mod:`watermarks` replies before sends, across every worker;
- :mod:`processor` routing, deciding, sends held until replies are caught up;
- :mod:`checkpoint` THE order: outputs, changelog, offsets, state;
- :mod:`loop` fetch, process, checkpoint, rebalance, recovery, rewind;
- :mod:`progress` what a router publishes about the replies it has routed;
- :mod:`driver` an in-memory broker and runtime, for tests without Kafka.
"""
