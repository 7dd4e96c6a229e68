"""A guard against Faust and aiokafka upgrades: every private (or internal) name the
runtime relies on, checked by name. When an upgrade removes one, this fails and
says which; the runtime's use of it must then be adapted before upgrading."""

from __future__ import annotations

import importlib

import pytest

# (module, dotted attribute path, where the runtime uses it)
RELIED_ON = [
    ("aiokafka.consumer.subscription_state", "SubscriptionState.subscription", "kafka_ports.KafkaSource.lag"),
    ("aiokafka.consumer.subscription_state", "Subscription.assignment", "kafka_ports.KafkaSource.lag"),
    ("aiokafka.consumer.subscription_state", "Assignment.state_value", "kafka_ports.KafkaSource.lag"),
    ("aiokafka.consumer.subscription_state", "TopicPartitionState.position", "kafka_ports.KafkaSource.lag"),
    ("aiokafka.consumer.subscription_state", "TopicPartitionState.has_valid_position",
     "kafka_ports.KafkaSource.consumed_position"),
    ("aiokafka.coordinator.assignors.abstract", "AbstractPartitionAssignor", "assignor"),
    ("aiokafka.coordinator.protocol", "ConsumerProtocolMemberMetadata", "assignor"),
    ("aiokafka.coordinator.protocol", "ConsumerProtocolMemberAssignment", "assignor"),
    ("aiokafka.producer.producer", "AIOKafkaProducer.create_batch", "kafka_ports.KafkaOutputs.send"),
    ("aiokafka.producer.producer", "AIOKafkaProducer.send_batch", "kafka_ports.KafkaOutputs.send"),
    ("aiokafka.producer.producer", "AIOKafkaProducer.partitions_for", "kafka_ports.KafkaOutputs"),
    ("aiokafka.client", "AIOKafkaClient.set_topics", "kafka_ports._track_only"),
    ("aiokafka.client", "AIOKafkaClient.force_metadata_update",
     "kafka_ports.KafkaOutputs.log_ends, KafkaSource.refresh_metadata"),
    ("aiokafka.cluster", "ClusterMetadata.partitions_for_topic", "kafka_ports.KafkaOutputs.log_ends (client.cluster)"),
    ("aiokafka.consumer.group_coordinator", "GroupCoordinator.fetch_committed_offsets",
     "kafka_ports.KafkaSource.committed"),
    ("aiokafka.consumer.group_coordinator", "GroupCoordinator.request_rejoin", "kafka_ports.KafkaSource.rejoin"),
    ("aiokafka.partitioner", "murmur2", "routing.partition_for, kafka_ports.KafkaOutputs.send"),
    ("faust.app.base", "BootStrategy.enable_kafka", "faust_app.WebOnly"),
    ("faust.app.base", "App.BootStrategy", "faust_app.OptOutApp"),
    ("faust.app.base", "App.service", "faust_app.build_app"),
    ("faust.worker", "Worker.on_setup_root_logger", "worker.Worker"),
    # the web server: ours, registered with Faust; Faust's own web stack (and its /router,
    # /table... views) is then not built; its view settings are off in case it ever is
    ("faust.app.base", "App.web_server", "faust_app.build_app"),
    ("faust.app.base", "BootStrategy.web_server", "faust_app.build_app (no Faust web stack with our server)"),
    ("faust.types.settings.settings", "Settings.web_router_enabled", "faust_app.BUILT_IN_VIEWS_OFF"),
    ("faust.types.settings.settings", "Settings.web_tables_enabled", "faust_app.BUILT_IN_VIEWS_OFF"),
    ("faust.types.settings.settings", "Settings.web_stats_enabled", "faust_app.BUILT_IN_VIEWS_OFF"),
    ("faust.types.settings.settings", "Settings.web_graph_enabled", "faust_app.BUILT_IN_VIEWS_OFF"),
    ("faust.types.settings.settings", "Settings.web_metrics_enabled", "faust_app.BUILT_IN_VIEWS_OFF"),
    # aiohttp: requests it cannot parse are answered by RequestHandler.handle_error (through
    # _make_error_handler), which our subclass overrides to answer JSON
    ("aiohttp.web_protocol", "RequestHandler.handle_error", "web.errors.JsonErrorRequestHandler"),
    ("aiohttp.web_protocol", "RequestHandler.log_exception", "web.errors.JsonErrorRequestHandler"),
    ("aiohttp.web_protocol", "RequestHandler._make_error_handler", "web.errors.JsonErrorRequestHandler"),
    ("aiohttp.web_runner", "BaseRunner.server", "web.server.HttpServer.start"),
]


@pytest.mark.parametrize(("module", "path", "used_by"), RELIED_ON, ids=[f"{m}:{p}" for m, p, _ in RELIED_ON])
def test_relied_on_name_still_exists(module, path, used_by):
    obj = importlib.import_module(module)
    for part in path.split("."):
        assert hasattr(obj, part), f"{module}.{path} is gone (used by app/runtime/{used_by})"
        obj = getattr(obj, part)


def test_a_consumer_keeps_its_subscription_state_where_lag_reads_it():
    """``KafkaSource.lag`` reads ``consumer._subscription`` without waiting."""
    src = importlib.import_module("aiokafka.consumer.consumer").AIOKafkaConsumer.__init__
    assert "self._subscription" in src.__code__.co_names or "_subscription" in src.__code__.co_names


def test_aiohttp_request_handler_takes_what_the_web_server_gives_it():
    """``HttpServer.start`` builds ``JsonErrorRequestHandler(server, loop=..., **options)`` itself
    (aiohttp's sites would build its own class), and overrides ``handle_error``."""
    import inspect

    from aiohttp.web_protocol import RequestHandler

    from app.runtime.web.server import HttpServer

    params = inspect.signature(RequestHandler.__init__).parameters
    options = HttpServer(None, "127.0.0.1", 0).handler_options()  # type: ignore[arg-type]
    assert {"manager", "loop", *options} <= set(params), set(options) - set(params)
    assert list(inspect.signature(RequestHandler.handle_error).parameters) == [
        "self", "request", "status", "exc", "message"]
    error_handler = inspect.getsource(RequestHandler._make_error_handler)
    assert "self.handle_error(" in error_handler


def test_pinned_versions_are_the_ones_installed():
    from importlib.metadata import version

    assert version("faust-streaming") == "0.15.3"
    assert version("aiokafka") == "0.14.0"
    assert version("aiohttp") == "3.14.5"  # constraints.txt; the web server relies on RequestHandler


def test_clients_are_where_the_metadata_tracking_reaches_them():
    """``kafka_ports._track_only`` sets the topics of ``producer.client`` and ``consumer._client``."""
    consumer = importlib.import_module("aiokafka.consumer.consumer").AIOKafkaConsumer.__init__
    producer = importlib.import_module("aiokafka.producer.producer").AIOKafkaProducer.__init__
    assert "_client" in consumer.__code__.co_names and "client" in producer.__code__.co_names
