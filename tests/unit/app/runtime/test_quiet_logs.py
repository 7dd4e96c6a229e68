import logging

from app.runtime.quiet_logs import CollapseRepeats


def record(name: str, msg: str, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, (), None)


def test_repeats_of_a_kafka_client_error_are_held_back_and_counted():
    f = CollapseRepeats(window_s=3600)
    assert f.filter(record("aiokafka.conn", "Unable connect to %r"))
    assert not any(f.filter(record("aiokafka.conn", "Unable connect to %r")) for _ in range(29_000))
    assert f.filter(record("aiokafka.client", "other"))
    assert f.filter(record("app.engine.processor", "internal error on %s"))  # any logger's warnings ...
    assert not f.filter(record("app.engine.processor", "internal error on %s"))  # ... are collapsed
    assert f.filter(record("app.engine.processor", "info", logging.INFO))  # (not below warning)


def test_outage_lines_are_never_collapsed():
    from app.engine.outage import Outage

    f = CollapseRepeats(window_s=3600)
    for what in ("progress reports", "progress reader"):
        r = logging.LogRecord("app.runtime", logging.WARNING, __file__, 1, Outage.FAILING, (what, "x"), None)
        assert f.filter(r)


def test_after_the_window_one_line_says_how_many_were_held_back():
    f = CollapseRepeats(window_s=0)
    f.filter(record("aiokafka.conn", "x"))
    f._seen[("aiokafka.conn", "x")] = (f._seen[("aiokafka.conn", "x")][0] - 10, 41)
    r = record("aiokafka.conn", "x")
    assert f.filter(r) and "41 similar" in r.msg


# ---------------------------------------------------------------- broker outages

from app.engine.outage import Outage  # noqa: E402
from app.runtime.quiet_logs import BrokerWatch  # noqa: E402


class Clock:
    def __init__(self) -> None:
        self.ms = 1_000_000

    def __call__(self) -> int:
        return self.ms


def shown(f: CollapseRepeats, *records: logging.LogRecord) -> list[str]:
    return [r.getMessage() for r in records if f.filter(r)]


def test_one_warning_when_the_broker_goes_and_one_when_it_is_back(caplog):
    clock = Clock()
    watch = BrokerWatch(clock)
    f = CollapseRepeats(window_s=60, watch=watch)
    caplog.set_level(logging.WARNING, logger="app.runtime.broker")
    lines = []
    lines += shown(f, record("aiokafka.conn", "Unable connect to node with id 1: [Errno 111] Connect call failed"))
    for _ in range(29_000):  # a worker's worth of client retries in 30 s
        lines += shown(f, record("aiokafka.conn", "Unable connect to node with id 1: [Errno 111] Connect call failed"),
                       record("aiokafka.consumer.group_coordinator", "Heartbeat failed for group %s"))
    other = Outage(logging.getLogger("app.runtime"), "progress reports")
    failing = logging.LogRecord("app.runtime", logging.WARNING, __file__, 1, Outage.FAILING, ("progress reports", "x"), None)
    lines += shown(f, failing)
    for _ in range(10):
        watch.failed(clock(), TimeoutError())
    clock.ms += 30_000
    watch.ok(clock())
    recovered = logging.LogRecord("app.runtime", logging.WARNING, __file__, 1, Outage.RECOVERED, ("progress reports", 30.0, 7), None)
    lines += shown(f, recovered)
    assert lines == []  # every client and worker line was held back ...
    messages = [r.getMessage() for r in caplog.records if r.name == "app.runtime.broker"]
    assert len(messages) == 2  # ... and the watch said two things
    assert messages[0].startswith("broker unreachable (Kafka client: Unable connect")
    assert "after 30.0 s: 10 retries, 58002 log messages held back" in messages[1]
    assert other.what == "progress reports"


def test_after_the_outage_warnings_show_again(caplog):
    watch = BrokerWatch(Clock())
    f = CollapseRepeats(window_s=60, watch=watch)
    watch.failed(watch.clock_ms(), TimeoutError())
    assert not f.filter(record("app.engine.loop", "something", logging.WARNING))
    watch.ok(watch.clock_ms())
    assert f.filter(record("app.engine.loop", "something", logging.WARNING))
    assert f.filter(record("aiokafka.conn", "a different error"))


def test_a_rebalance_heartbeat_is_not_a_broker_outage():
    watch = BrokerWatch(Clock())
    f = CollapseRepeats(window_s=60, watch=watch)
    assert f.filter(record("aiokafka.consumer.group_coordinator", "Heartbeat failed: local member_id was not recognized"))
    assert not watch.down
