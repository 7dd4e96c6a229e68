"""Commands that put records in and show what came out (``python -m app reply|send|tail|demo``).

- :mod:`kafka_io` the commands' Kafka clients, built with
  :func:`app.runtime.kafka_security.kafka_client_options` like every client of the worker,
  and the one-line errors they end with;
- :mod:`put` ``reply`` and ``send``: one record each, checked against its contract
  (``schemas/``) before it is produced;
- :mod:`outcome_lines` one readable line per record of an output topic (pure);
- :mod:`tail` ``tail``: the outcomes as they are committed (read_committed);
- :mod:`demo` ``demo``: a scripted story played against a running worker.

Nothing outside ``app/__main__.py`` imports this package.
"""
