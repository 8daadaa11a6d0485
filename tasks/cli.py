"""The ``tracker`` command: bridge, demo producer, local stack and operations."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import click
import redis

from tasks.dead_letters_cli import dead_letters_command
from tasks.stack import stack_command
from tasks.status_cli import status_command
from tracker import __version__
from tracker.board_cli import board_command
from tracker.closing import close_periods_command, period_results_command
from tracker.config_check import check_config_command
from tracker.demo import demo_command
from tracker.edx.cli import (
    edx_analyze_command,
    edx_import_command,
    edx_ingest_command,
    edx_report_command,
)
from tracker.edx.erasure import forget_learner_command
from tracker.erasure import delete_records_command, forget_player_command
from tracker.rebuild import rebuild_board_command
from tracker.reindex import convert_ties_command
from tracker.replay import replay_command
from tracker.rewards import run_reward_hooks_command
from tracker.season_cli import season_command
from tracker.settings import Settings


@click.group()
@click.version_option(__version__, prog_name="stats-tracker")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
def main(log_level: str) -> None:
    """stats-tracker: Varcade game events → Celery workers → Redis boards and stats."""
    logging.basicConfig(level=log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--consumer", default=None,
              help="Consumer name in the group (default: host-pid-random).")
def bridge(consumer: str | None) -> None:
    """Read the event stream through a consumer group and enqueue per-product batches.

    Several bridges may run at once; stop with Ctrl-C or SIGTERM.
    """
    from tasks.bridge import Bridge, celery_publisher
    from tracker.processing import tune_gc

    settings = Settings.from_env()
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    stream = redis.Redis.from_url(settings.stream_url, socket_timeout=settings.block_ms / 1000 + 10)
    runner = Bridge(settings, stream, celery_publisher(), consumer=consumer, stop=stop)
    tune_gc()  # a read makes a dozen short-lived objects per entry, as a part does in a worker
    runner.run()


main.add_command(dead_letters_command)
main.add_command(demo_command)
main.add_command(edx_report_command)
main.add_command(edx_import_command)
main.add_command(edx_ingest_command)
main.add_command(edx_analyze_command)
main.add_command(stack_command)
main.add_command(forget_player_command)
main.add_command(delete_records_command)
main.add_command(forget_learner_command)
main.add_command(close_periods_command)
main.add_command(period_results_command)
main.add_command(run_reward_hooks_command)
main.add_command(convert_ties_command)
main.add_command(board_command)
main.add_command(status_command)
main.add_command(replay_command)
main.add_command(rebuild_board_command)
main.add_command(check_config_command)
main.add_command(season_command)
