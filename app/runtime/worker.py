"""`python -m app worker`: one Faust worker process hosting the engine."""

from __future__ import annotations

import logging

import faust

from app.runtime import collector, log_mask, quiet_logs
from app.runtime.faust_app import build_app
from app.settings import Settings


class Worker(faust.Worker):
    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        # Faust's terminal spinner would set the root logger to DEBUG, which makes
        # every debug call in aiokafka/Faust build a log record: costly per message.
        self.spinner = None
        logger.setLevel(level)
        quiet_logs.install(logger)

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        collector.freeze()  # what start-up built is never scanned again (app/runtime/collector.py)


def run_worker(settings: Settings) -> None:
    """Run until stopped; exits the process."""
    log_mask.install()  # no phone number in any log line, from the first one on
    app, _host = build_app(settings)
    worker = Worker(app, loglevel=settings.log_level.upper(), quiet=True)
    worker.execute_from_commandline()
