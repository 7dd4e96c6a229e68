import logging

import pytest

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


# ---------------------------------------------------------------- the client's routine lines

from aiokafka import errors as kafka_errors  # noqa: E402

from app.runtime import quiet_logs  # noqa: E402
from app.runtime.quiet_logs import RoutineClientLines  # noqa: E402


def client_record(name: str, msg: str, *args, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


@pytest.fixture
def at_info():
    root, client = logging.getLogger(), logging.getLogger("aiokafka")
    before = root.level, client.level
    root.setLevel(logging.INFO)
    client.setLevel(logging.NOTSET)  # the root's level decides
    yield root
    root.setLevel(before[0])
    client.setLevel(before[1])


class Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_discovered_coordinator_lines_become_debug(at_info):
    f = RoutineClientLines()
    for name, template in [("aiokafka.producer.sender", "Discovered coordinator %s for group id %s"),
                           ("aiokafka.producer.sender", "Discovered coordinator %s for transactional id %s"),
                           ("aiokafka.consumer.group_coordinator", "Discovered coordinator %s for group %s")]:
        r = client_record(name, template, 1, "sms-optout")
        assert not f.filter(r)  # not shown at INFO ...
        assert r.levelno == logging.DEBUG and r.levelname == "DEBUG"
    at_info.setLevel(logging.DEBUG)
    assert f.filter(client_record("aiokafka.producer.sender", "Discovered coordinator %s for group id %s", 1, "g"))
    other = client_record("aiokafka.consumer.group_coordinator", "Joined group %r (generation %s) with member_id %s",
                          "g", 1, "m")
    assert f.filter(other) and other.levelno == logging.INFO  # ... other lines as they are


def coordinator_failed(error: Exception) -> logging.LogRecord:
    return client_record("aiokafka.consumer.group_coordinator", "Group Coordinator Request failed: %s", error,
                         level=logging.ERROR)


def test_a_first_election_is_one_info_line_not_an_error(at_info):
    clock = Monotonic()
    f = RoutineClientLines(grace_s=30, clock=clock)
    first = coordinator_failed(kafka_errors.GroupCoordinatorNotAvailableError())
    assert f.filter(first)
    assert first.levelno == logging.INFO
    assert first.getMessage() == ("waiting for the group coordinator (GroupCoordinatorNotAvailableError): usual "
                                  "while a new broker or group elects it")
    clock.now += 0.1
    assert not f.filter(coordinator_failed(kafka_errors.GroupCoordinatorNotAvailableError()))  # retries: DEBUG
    clock.now += 5
    assert not f.filter(coordinator_failed(kafka_errors.GroupLoadInProgressError()))
    found = client_record("aiokafka.consumer.group_coordinator", "Discovered coordinator %s for group %s", 1, "g")
    assert not f.filter(found)
    again = coordinator_failed(kafka_errors.GroupCoordinatorNotAvailableError())  # a later election: news again
    assert f.filter(again) and again.levelno == logging.INFO


def test_a_coordinator_that_stays_away_shows_the_clients_errors(at_info):
    clock = Monotonic()
    f = RoutineClientLines(grace_s=30, clock=clock)
    assert f.filter(coordinator_failed(kafka_errors.GroupCoordinatorNotAvailableError()))
    clock.now += 31
    late = coordinator_failed(kafka_errors.GroupCoordinatorNotAvailableError())
    assert f.filter(late) and late.levelno == logging.ERROR
    assert "Group Coordinator Request failed" in late.getMessage()


def test_other_coordinator_errors_stay_errors(at_info):
    f = RoutineClientLines()
    for error in (kafka_errors.GroupAuthorizationFailedError(), kafka_errors.KafkaConnectionError(), "text"):
        r = coordinator_failed(error)  # type: ignore[arg-type]
        assert f.filter(r) and r.levelno == logging.ERROR


def test_install_puts_the_filter_on_the_clients_loggers_once():
    quiet_logs.install(logging.getLogger("test.quiet_logs.root"))
    quiet_logs.install(logging.getLogger("test.quiet_logs.root"))
    for name in ("aiokafka.producer.sender", "aiokafka.consumer.group_coordinator"):
        assert logging.getLogger(name).filters.count(quiet_logs.CLIENT_LINES) == 1


def test_through_the_logging_machinery_a_worker_start_shows_no_coordinator_noise(at_info):
    import io

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    at_info.addHandler(handler)
    quiet_logs.CLIENT_LINES.waiting_since = None  # (the worker's one filter: no wait of an earlier test)
    try:
        quiet_logs.install(at_info)
        sender = logging.getLogger("aiokafka.producer.sender")
        for _ in range(65):
            sender.info("Discovered coordinator %s for group id %s", 1, "sms-optout")
        logging.getLogger("aiokafka.consumer.group_coordinator").error(
            "Group Coordinator Request failed: %s", kafka_errors.GroupCoordinatorNotAvailableError())
    finally:
        at_info.removeHandler(handler)
    assert stream.getvalue().splitlines() == [
        "waiting for the group coordinator (GroupCoordinatorNotAvailableError): usual while a new broker or group "
        "elects it"]
