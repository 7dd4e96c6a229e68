"""Systems under test. Each baseline is a stand-alone script run as its own process,
so its CPU time and resident memory can be read from /proc; they import nothing from
the project (only aiokafka/orjson, or quixstreams in its own virtualenv)."""
