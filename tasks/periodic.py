"""Periodic tasks, run by Celery beat (``celery -A tasks beat``) every
``TRACKER_PERIODIC_SECONDS`` (60), on the default queue:

- ``close_periods`` publishes the final standings of every period that is over
  (:mod:`tracker.closing`): the results stream game backends grant rewards from;
- ``run_reward_hooks`` calls the handlers' reward hooks (``period_closed``) on those
  results, at least once each (:class:`tracker.rewards.RewardHooks`);
- ``catch_up_analyses`` schedules the course analysis of a product whose tracking
  logs changed with none scheduled: the safety net for an analysis task lost
  otherwise than with its worker (which redelivers it).

They are idempotent (a hook should be too), so one beat too many, or ``tracker
close-periods`` from cron beside it, does no harm; with no beat running, periods
close when someone runs that command (and hooks run with ``tracker
run-reward-hooks``), and course reports catch up with the next batch.
"""

from __future__ import annotations

import logging
import time
from functools import cache

from tasks.analysis import analysis, schedule_analysis
from tasks.celery_app import app, products, settings
from tasks.routing import CATCH_UP_ANALYSES, CLOSE_PERIODS, RUN_REWARD_HOOKS
from tracker.closing import PeriodResults
from tracker.rewards import RewardHooks
from tracker.storage import Keys
from tracker.storage.connect import data_client

log = logging.getLogger(__name__)


@cache
def period_results() -> PeriodResults:
    s = settings()
    client = data_client(s.redis_url, health_check_interval=30, socket_timeout=30)
    return PeriodResults(client, Keys(s.key_prefix))


def ran(task: str) -> None:
    """Note when ``task`` last ran, for /metrics (``tracker_periodic_last_run``): an
    alert on it finds a beat that stopped."""
    results = period_results()
    results.client.hset(results.keys.periodic_runs, task, int(time.time()))


@app.task(name=CLOSE_PERIODS)
def close_periods() -> dict[str, int]:
    """Publish the standings of every period that is over; entries published, by product."""
    now_ms = int(time.time() * 1000)
    published = {p.id: period_results().close_due(p, now_ms) for p in products().values()}
    done = {p: n for p, n in published.items() if n}
    if done:
        log.info("closed periods, results published: %s", done)
    ran(CLOSE_PERIODS)
    return done


@app.task(name=RUN_REWARD_HOOKS)
def run_reward_hooks() -> dict[str, dict[str, int]]:
    """Call the reward hooks of the results published and not yet seen (or whose hook
    failed a minute ago); per product with hooks, the calls that returned and failed."""
    hooks = RewardHooks(period_results(), webhook_secret=settings().webhook_secret)
    done = {}
    for product in products().values():
        run = hooks.run(product)
        if run.called or run.failed:
            done[product.id] = {"called": run.called, "failed": run.failed}
    if done:
        log.info("reward hooks: %s", done)
    ran(RUN_REWARD_HOOKS)
    return done


@app.task(name=CATCH_UP_ANALYSES)
def catch_up_analyses() -> list[str]:
    """Schedule the analysis of each product with changed course logs and none scheduled."""
    behind = [p.id for p in products().values()
              if p.reads_course_logs and analysis().timelines.changed_count(p.id)]
    for product_id in behind:
        schedule_analysis(product_id)  # a no-op while one is scheduled
    ran(CATCH_UP_ANALYSES)
    return behind
