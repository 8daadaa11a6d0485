"""The pipeline's state on the API's ``/metrics``, read from Redis at each scrape
(:mod:`tracker.pipeline_state`).

The API already reaches Redis, so it exports them: one place to scrape, whatever pool
the workers run, and figures that agree with the data. If Redis does not answer, the
scrape still succeeds and says so with ``tracker_pipeline_up 0``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api.state import ApiState
from tracker.pipeline_state import read_state
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
        state = read_state(st.store, st.products, self._stream(st))
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
        refused = CounterMetricFamily(
            "tracker_scores_refused",
            "Score submissions and joins refused (past a tournament's attempts or players, "
            "from a player who did not join, or past a board's rate limit): counted, not "
            "kept.",
            labels=["product"])
        for product, totals in state.products.items():
            applied.add_metric([product], totals.applied)
            duplicates.add_metric([product], totals.duplicates)
            late.add_metric([product], totals.late)
            refused.add_metric([product], totals.refused)
        yield applied
        yield duplicates
        yield late
        yield refused
        yield GaugeMetricFamily("tracker_dead_letters",
                                "Entries in the dead-letter stream, awaiting a look.",
                                value=state.dead_letters)
        yield _gauge("tracker_timelines_changed",
                     "Course timelines (a learner's tracking-log events) changed since the last "
                     "course analysis, by product.", "product", state.timelines_changed)
        yield _gauge("tracker_periodic_last_run_timestamp_seconds",
                     "When each periodic task (tasks.close_periods, tasks.run_reward_hooks, "
                     "tasks.catch_up_analyses) last ran, Unix time.", "task", state.periodic_runs)
        hooks = state.reward_hooks
        yield _gauge("tracker_reward_hooks_pending",
                     "Period results whose reward hook was called and has not returned (it "
                     "failed, or is running), by product.", "product",
                     {p: h.pending for p, h in hooks.items()})
        yield _gauge("tracker_reward_hooks_lag",
                     "Period results no reward hook run has read yet, by product.", "product",
                     {p: h.unread for p, h in hooks.items() if h.unread is not None})
        stream = state.stream
        yield GaugeMetricFamily("tracker_stream_length", "Entries in the event stream.",
                                value=stream.length)
        yield GaugeMetricFamily(
            "tracker_stream_pending", "Entries read by a bridge and not yet applied.",
            value=stream.in_flight)
        if stream.lag is not None:
            yield GaugeMetricFamily(
                "tracker_stream_lag", "Entries in the stream that no bridge has read yet.",
                value=stream.lag)


def _gauge(name: str, documentation: str, label: str, values: Mapping[str, int]) -> Metric:
    """A gauge with one sample per key of ``values``, labelled ``label``."""
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in values.items():
        family.add_metric([key], value)
    return family
