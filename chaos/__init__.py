"""Fault-injection harness: real workers, a real broker, SIGKILLs and a broker restart,
and a checker that holds the outputs against what the product promises.

- ``numbers``: the phone numbers used (valid for ``phonenumbers``), routed partitions, probes.
- ``generator``: paced producer of sends and STOP/START replies; keeps the model.
- ``collector``: reads the output topics from the beginning, stamps when each record was seen.
- ``checker``: pure functions over lists of dicts (model and outputs) -> ``CheckResult``.
- ``fleet``: worker processes (``python -m app worker``): start, SIGKILL, wipe, restart.
- ``broker``: the shared broker and the scenario-owned broker that gets restarted.
- ``scenarios``: the scenarios and the runner; ``report``: JSON and markdown summaries.

Run ``make chaos`` or ``python -m chaos --help``.
"""
