import logging

from app.runtime.quiet_logs import CollapseRepeats


def record(name: str, msg: str, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, (), None)


def test_repeats_of_a_kafka_client_error_are_held_back_and_counted():
    f = CollapseRepeats(window_s=3600)
    assert f.filter(record("aiokafka.conn", "Unable connect to %r"))
    assert not any(f.filter(record("aiokafka.conn", "Unable connect to %r")) for _ in range(29_000))
    assert f.filter(record("aiokafka.client", "other"))
    assert f.filter(record("app.engine", "Unable connect to %r"))  # only aiokafka's records


def test_after_the_window_one_line_says_how_many_were_held_back():
    f = CollapseRepeats(window_s=0)
    f.filter(record("aiokafka.conn", "x"))
    f._seen[("aiokafka.conn", "x")] = (f._seen[("aiokafka.conn", "x")][0] - 10, 41)
    r = record("aiokafka.conn", "x")
    assert f.filter(r) and "41 similar" in r.msg
