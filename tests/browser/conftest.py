"""The browser tests run on a real broker and real workers: the integration fixtures."""

from tests.integration.conftest import kafka_bootstrap, workers  # noqa: F401 - fixtures
