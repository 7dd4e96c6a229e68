"""The Faust app: the worker's lifecycle and its web server. Faust's Kafka
consumer, producer, agents and tables are not started: the engine
(:mod:`app.runtime.host`) owns every Kafka client and the state."""

from __future__ import annotations

import faust
import mode
from faust.app.base import BootStrategy

from app.runtime.host import Host
from app.runtime.web.errors import json_errors
from app.settings import Settings


class WebOnly(BootStrategy):
    enable_kafka = False  # no Faust consumer, producer or tables: the engine owns Kafka


class OptOutApp(faust.App):
    BootStrategy = WebOnly


def build_app(settings: Settings) -> tuple[faust.App, Host]:
    app = OptOutApp(
        settings.app_id,
        broker=[f"kafka://{h.strip()}" for h in settings.kafka_bootstrap_servers.split(",") if h.strip()],
        datadir=str(settings.data_dir),
        web_enabled=True,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        canonical_url=settings.web_url,
        web_tables_enabled=False,  # Faust's /table endpoint would expose phone numbers
        web_application_options={"middlewares": [json_errors]},
        autodiscover=False,
    )
    host = Host(settings)

    @app.service
    class Engine(mode.Service):
        async def on_start(self) -> None:
            await host.start()

        async def on_stop(self) -> None:
            await host.stop()

    from app.runtime.web import register_views

    register_views(app, host)
    return app, host
