"""The pipeline's state on the API's ``/metrics``, read from Redis at each scrape.

Workers keep exact per-product totals in the batch script (see
:meth:`tracker.storage.Store.counters`), and the stream and the dead letters
are in Redis anyway, so the API that already reaches Redis exports them: one
place to scrape, whatever pool the workers run, and figures that agree with
the data. If Redis does not answer, the scrape still succeeds and says so
with ``tracker_pipeline_up 0``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api.state import ApiState
from tracker.rewards import HOOKS_GROUP, has_hooks
from tracker.storage import DeadLetters
from tracker.storage.inflight import InFlight

SCRAPE_TIMEOUT = 2.0  # seconds: a slow Redis must not hold the scrape


class PipelineCollector(Collector):
    def __init__(self, state: ApiState) -> None:
        self._state = state
        self._inflight: InFlight | None = None  # made at the first scrape, in the worker

    def _stream(self, st: ApiState) -> InFlight:
        """The parts in flight, whose client also reads the stream."""
        if self._inflight is None:
            s = st.settings
            client = redis.Redis.from_url(s.stream_url, socket_connect_timeout=SCRAPE_TIMEOUT,
                                          socket_timeout=SCRAPE_TIMEOUT,
                                          single_connection_client=True)
            self._inflight = InFlight.of(client, s)
        return self._inflight

    def collect(self) -> Iterator[Metric]:
        st = self._state
        up = GaugeMetricFamily("tracker_pipeline_up",
                               "1 if this scrape could read the pipeline's state in Redis.")
        try:
            metrics = list(self._read(st))
        except (redis.RedisError, OSError):
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics

    def _read(self, st: ApiState) -> Iterator[Metric]:
        applied = CounterMetricFamily(
            "tracker_events_applied", "Stream entries applied, by product (exactly once each).",
            labels=["product"])
        duplicates = CounterMetricFamily(
            "tracker_events_duplicate",
            "Stream entries delivered again after they were applied, and skipped.",
            labels=["product"])
        late = CounterMetricFamily(
            "tracker_events_late",
            "Stream entries applied after their period's grace: on all-time boards only.",
            labels=["product"])
        for product, totals in st.store.counters(sorted(st.products)).items():
            applied.add_metric([product], totals.get("applied", 0))
            duplicates.add_metric([product], totals.get("duplicates", 0))
            late.add_metric([product], totals.get("late", 0))
        yield applied
        yield duplicates
        yield late
        letters = DeadLetters(st.store.client, st.store.keys)
        yield GaugeMetricFamily("tracker_dead_letters",
                                "Entries in the dead-letter stream, awaiting a look.",
                                value=letters.count())
        yield self._timelines(st)
        yield self._periodic(st)
        yield from self._reward_hooks(st)
        yield from self._stream_gauges(st)

    @staticmethod
    def _periodic(st: ApiState) -> Metric:
        """When Celery beat's periodic tasks last ran: a stale one means no beat runs."""
        runs = GaugeMetricFamily(
            "tracker_periodic_last_run_timestamp_seconds",
            "When each periodic task (tasks.close_periods, tasks.run_reward_hooks, "
            "tasks.catch_up_analyses) last ran, Unix time.", labels=["task"])
        raw: Any = st.store.client.hgetall(st.store.keys.periodic_runs)
        for task, at in sorted(raw.items()):
            runs.add_metric([_text(task)], int(at))
        return runs

    @staticmethod
    def _reward_hooks(st: ApiState) -> Iterator[Metric]:
        """Closed periods' results whose reward hook has not returned yet, per product with
        hooks: pending (read; a hook that keeps failing shows here) and not read yet."""
        pending = GaugeMetricFamily(
            "tracker_reward_hooks_pending",
            "Period results whose reward hook was called and has not returned (it failed, "
            "or is running), by product.", labels=["product"])
        lag = GaugeMetricFamily(
            "tracker_reward_hooks_lag", "Period results no reward hook run has read yet, "
            "by product.", labels=["product"])
        client, keys = st.store.client, st.store.keys
        for product_id in sorted(st.products):
            if not has_hooks(st.products[product_id]):
                continue
            stream = keys.period_results(product_id)
            try:
                groups: list[dict[str, Any]] = client.xinfo_groups(stream)  # type: ignore[assignment]
            except redis.ResponseError:  # nothing published yet
                groups = []
            info = next((g for g in groups if _text(g["name"]) == HOOKS_GROUP), None)
            pending.add_metric([product_id], int(info["pending"]) if info else 0)
            unread = info.get("lag") if info else client.xlen(stream)
            if unread is not None:  # None: Redis cannot tell (entries deleted meanwhile)
                lag.add_metric([product_id], int(unread))
        yield pending
        yield lag

    @staticmethod
    def _timelines(st: ApiState) -> Metric:
        """How far course analysis lags: learners' timelines with events not analysed yet."""
        course_logs = sorted(pid for pid, p in st.products.items() if p.reads_course_logs)
        pending = GaugeMetricFamily(
            "tracker_timelines_changed",
            "Course timelines (a learner's tracking-log events) changed since the last "
            "course analysis, by product.", labels=["product"])
        pipe = st.store.client.pipeline(transaction=False)  # one slot per product: no MULTI
        for product in course_logs:
            pipe.hlen(st.store.keys.timeline_changes(product))
        for product, count in zip(course_logs, pipe.execute(), strict=True):
            pending.add_metric([product], int(count))
        return pending

    def _stream_gauges(self, st: ApiState) -> Iterator[Metric]:
        flight = self._stream(st)
        client = flight.client
        key, group = st.settings.stream_key, st.settings.stream_group
        yield GaugeMetricFamily("tracker_stream_length", "Entries in the event stream.",
                                value=int(client.xlen(key)))
        try:
            groups: list[dict[str, Any]] = client.xinfo_groups(key)  # type: ignore[assignment]
        except redis.ResponseError:  # no stream yet: nothing read
            groups = []
        info = next((g for g in groups if _text(g["name"]) == group), None)
        yield GaugeMetricFamily(
            "tracker_stream_pending", "Entries read by a bridge and not yet applied.",
            value=flight.count())
        if info is not None and info.get("lag") is not None:
            yield GaugeMetricFamily(
                "tracker_stream_lag", "Entries in the stream that no bridge has read yet.",
                value=int(info["lag"]))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
