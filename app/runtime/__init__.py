"""The runtime: the only package that imports Faust or reaches into a Kafka client.

- :mod:`kafka_ports` the engine's ports on aiokafka (group consumer, producers,
  transactional task producers, changelog reader);
- :mod:`kafka_security` every Kafka client's options (TLS, SASL) and the start-up access check;
- :mod:`cluster_keys` the keys workers trust each other with (from OPTOUT_CLUSTER_SECRET);
- :mod:`rocks` the state store on RocksDB (rocksdict);
- :mod:`assignor` co-partitioned assignment, and who owns which partition;
- :mod:`host` the engine as a Faust service: its tasks, standbys, health;
- :mod:`faust_app` and :mod:`worker` the Faust app (worker lifecycle and web server only);
- :mod:`topics` the topics the worker creates and checks;
- :mod:`importer` ``import-optouts`` on Kafka;
- :mod:`log_mask`, :mod:`quiet_logs`, :mod:`malloc` logging and memory hygiene;
- :mod:`web` the HTTP API (one ``*_api`` module per group of endpoints).
"""
