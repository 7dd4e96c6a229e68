"""``make soak``: one worker under a steady mixed load for a long time; does its memory level off?

See soak/README.md. Pieces: ``config`` (sizes, flags, env), ``load`` (the paced producer),
``outcomes`` (reads the output topics, read_committed, into a compact ledger), ``accounting``
(every send on exactly one output: pure), ``rss`` (the worker's RSS over time and its slope),
``report`` (soak/results/latest.{md,json,png}), ``traced_worker`` (the worker under
tracemalloc, with RocksDB's memory statistics, for finding what grows).
"""
