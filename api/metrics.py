"""Prometheus metrics at ``/metrics``: request counts and latency by route template,
and the pipeline's state (:mod:`api.pipeline_metrics`).

Labels are the method, the matched route template (``/products/<product_id>/...``,
never the concrete path, so no user id becomes a label) and the status;
unmatched paths share the route ``<unmatched>``. Under gunicorn with several
workers, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory so that
``/metrics`` sums every worker.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import InfoMetricFamily
from prometheus_client.registry import Collector

from api.openapi import Auth, Operation, operation
from api.pipeline_metrics import PipelineCollector
from api.state import ApiState, state
from tracker import __version__
from tracker.userstate.client import METRICS as USER_STATE_METRICS

EXTENSION = "stats_tracker_metrics"
UNMATCHED = "<unmatched>"
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

bp = Blueprint("metrics", __name__)


class BuildInfo(Collector):
    """``tracker_build_info{version="…"} 1``: which release answers, during a rollout too.
    A collector, not an ``Info``, so that it works in multiprocess mode as well."""

    def collect(self) -> Iterator[InfoMetricFamily]:
        yield InfoMetricFamily("tracker_build", "The version of stats-tracker serving the API.",
                               value={"version": __version__})


class Metrics:
    def __init__(self, pipeline: Collector) -> None:
        self.registry = CollectorRegistry()  # one per app: tests build many apps
        self.pipeline = pipeline
        self.build = BuildInfo()
        self.registry.register(pipeline)
        self.registry.register(self.build)
        for collector in USER_STATE_METRICS:  # the user-state reads this process makes
            self.registry.register(collector)
        self.requests = Counter(
            "tracker_api_requests", "HTTP requests answered, by route template and status.",
            ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram(
            "tracker_api_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route"], buckets=BUCKETS, registry=self.registry)
        # labels() validates and locks on every call; the label sets are few (routes x
        # methods x statuses), so each one's counter and histogram are looked up once.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        children = self._children.get((method, route, status))
        if children is None:
            children = (self.requests.labels(method, route, str(status)),
                        self.latency.labels(method, route))
            self._children[(method, route, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            registry.register(self.pipeline)
            registry.register(self.build)
            return generate_latest(registry)
        return generate_latest(self.registry)


def _start() -> None:
    g.metrics_start = time.perf_counter()


def _observe(response: Response) -> Response:
    start = g.pop("metrics_start", None)
    if start is not None:
        metrics: Metrics = current_app.extensions[EXTENSION]
        rule = request.url_rule
        metrics.observe(request.method, rule.rule if rule is not None else UNMATCHED,
                        response.status_code, time.perf_counter() - start)
    return response


@bp.get("/metrics")
@operation(Operation(tag="operations", response=None, auth=Auth.METRICS, reads_redis=False,
                     rate_limited=False, media_type="text/plain"))
def metrics() -> Response:
    """Prometheus text exposition of the API's request counters and latencies, and of the
    pipeline: entries applied and skipped as duplicates per product, dead letters, the
    stream's length, lag and entries in flight (`tracker_pipeline_up` 0 if Redis did not
    answer; the scrape itself still succeeds).

    Public by default; with `TRACKER_PUBLIC_METRICS=false`, a token with the scope
    `metrics:read`."""
    state().auth.metrics()
    body = current_app.extensions[EXTENSION].exposition()
    return Response(body, content_type=CONTENT_TYPE_LATEST)


def init_metrics(app: Flask, state: ApiState) -> None:
    app.extensions[EXTENSION] = Metrics(PipelineCollector(state))
    app.before_request(_start)
    app.after_request(_observe)
    app.register_blueprint(bp)
