"""The runtime: the only package that imports Faust or reaches into a Kafka client.

- :mod:`kafka_ports` the engine's ports on aiokafka (group consumer, producer,
  changelog reader, progress reader);
- :mod:`rocks` the state store on RocksDB (rocksdict);
- :mod:`assignor` co-partitioned assignment, and who owns which partition;
- :mod:`host` the engine as a Faust service: its tasks, health;
- :mod:`faust_app` the Faust app (worker lifecycle and web server only);
- :mod:`web` the HTTP views.
"""
