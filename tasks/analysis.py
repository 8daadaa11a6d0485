"""The course-analysis task: rebuild the reports of courses whose tracking logs changed.

A worker that applied a part of a product with the ``edx_logs`` handler
schedules one analysis of that product, ``TRACKER_ANALYSIS_DELAY_MS`` later,
unless one is scheduled already: a stream of batches costs one rebuild per
delay, not one per batch. Analyses of one product take turns: one that finds
another running tries again a little later, keeping the schedule. Once it runs,
it clears the schedule, so events applied meanwhile schedule the next one, and
it marks a learner done only if nothing came meanwhile
(:class:`tracker.storage.timelines.Timelines`).
A task lost with its worker is delivered again (late acks); if it is lost
otherwise, the schedule lapses and Celery beat's ``catch_up_analyses``
(:mod:`tasks.periodic`), the next batch or ``tracker edx-analyze`` brings the
course up to date.
"""

from __future__ import annotations

import logging
import math
from functools import cache

import redis
from celery import Task

from tasks.celery_app import app, products, settings
from tasks.routing import ANALYZE_COURSES
from tracker.edx.ingest import Busy, CourseAnalysis
from tracker.edx.store import AnalyticsStore
from tracker.storage import Keys, Timelines
from tracker.storage.connect import data_client

log = logging.getLogger(__name__)
OUTAGE_DELAY_S = 5


@cache
def analysis() -> CourseAnalysis:
    s = settings()
    client = data_client(s.redis_url, health_check_interval=30, socket_timeout=30)
    return CourseAnalysis(Timelines(client, Keys(s.key_prefix)), AnalyticsStore(client))


@cache
def reads_course_logs(product_id: str) -> bool:
    product = products().get(product_id)
    return product is not None and product.reads_course_logs


def schedule_analysis(product_id: str) -> None:
    """After a part of ``product_id`` is applied: its analysis, unless one is due.

    Never raises: the part is applied whatever happens here, and its courses stay
    marked changed until an analysis (the next part's, or ``tracker edx-analyze``)."""
    if not reads_course_logs(product_id):
        return
    delay_ms = settings().analysis_delay_ms
    timelines = analysis().timelines
    try:
        if timelines.schedule(product_id, for_ms=delay_ms + settings().claim_idle_ms):
            try:
                # Whole seconds: Celery's delayed delivery on RabbitMQ quorum queues
                # refuses a fraction of one.
                analyze_courses.apply_async(kwargs={"product_id": product_id},
                                            countdown=math.ceil(delay_ms / 1000) or None)
            except Exception:
                timelines.unschedule(product_id)  # so that the next part schedules it
                raise
    except Exception as exc:
        log.warning("could not schedule the course analysis of %s (%s: %s); the next part "
                    "will", product_id, type(exc).__name__, exc)


@app.task(bind=True, name=ANALYZE_COURSES)
def analyze_courses(self: Task, product_id: str) -> dict[str, int]:
    """Rebuild and store the report of each course of ``product_id`` that changed."""
    try:
        done = analysis().run(product_id)
    except Busy as exc:  # another analysis runs: what it misses stays marked for this one
        raise self.retry(countdown=OUTAGE_DELAY_S, max_retries=None) from exc
    except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError) as exc:
        log.warning("Redis unavailable (%s); course analysis again in %d s", exc,
                    OUTAGE_DELAY_S)
        raise self.retry(countdown=OUTAGE_DELAY_S, max_retries=None) from exc
    if done:
        log.info("course reports rebuilt: %s", done)
    return done
