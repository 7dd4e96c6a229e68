"""The Faust app: the worker's lifecycle and its web server. Faust's Kafka
consumer, producer, agents and tables are not started: the engine
(:mod:`app.runtime.host`) owns every Kafka client and the state. Faust's web stack
is not started either: the worker's HTTP server is our own aiohttp application
(:mod:`app.runtime.web.server`), registered with :meth:`faust.App.web_server`."""

from __future__ import annotations

import faust
import mode
from faust.app.base import BootStrategy

from app.runtime import log_mask
from app.runtime.host import Host
from app.runtime.web import web_service
from app.settings import Settings


class WebOnly(BootStrategy):
    enable_kafka = False  # no Faust consumer, producer or tables: the engine owns Kafka


class OptOutApp(faust.App):
    BootStrategy = WebOnly


# Faust's built-in views, each off (they are not even built, see build_app; this is in
# case they ever are): /router tells anyone which worker holds a number and every
# worker's URL, /table reads table keys (phone numbers), / and /stats and /graph and
# /performance describe the worker's internals.
BUILT_IN_VIEWS_OFF = {
    "web_router_enabled": False,
    "web_tables_enabled": False,
    "web_stats_enabled": False,
    "web_graph_enabled": False,
    "web_metrics_enabled": False,
}


def build_app(settings: Settings) -> tuple[faust.App, Host]:
    log_mask.install()
    app = OptOutApp(
        settings.app_id,
        broker=[f"kafka://{h.strip()}" for h in settings.kafka_bootstrap_servers.split(",") if h.strip()],
        datadir=str(settings.data_dir),
        web_enabled=True,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        canonical_url=settings.web_url,
        autodiscover=False,
        **BUILT_IN_VIEWS_OFF,
    )
    host = Host(settings)

    @app.service
    class Engine(mode.Service):
        async def on_start(self) -> None:
            await host.start()

        async def on_stop(self) -> None:
            await host.stop()

    # Our server replaces Faust's aiohttp stack (its blueprints are never applied).
    # Faust starts it before the engine, so /health answers "starting" meanwhile.
    app.web_server(web_service(host))
    return app, host
