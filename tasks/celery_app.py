"""The Celery application: broker, serialization, acks and routing.

Reliability settings (see the README's delivery guarantees):
- late acks and requeue on worker loss: a task is acknowledged only after its
  batch is in Redis, so a killed worker's batch runs again elsewhere;
- that redelivery is harmless because applying a batch is idempotent;
- msgpack bodies carry the stream entries' raw bytes unchanged (and compactly).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from celery import Celery

from tasks.routing import ProductRouter
from tracker.products import Products, load_products
from tracker.settings import Settings


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def products() -> Products:
    return load_products(settings().products_path)


def broker_options(s: Settings) -> dict[str, Any]:
    if s.broker_url.startswith(("amqp", "pyamqp")):
        return {"confirm_publish": True}
    return {
        "visibility_timeout": s.visibility_timeout,
        # restore unacked messages of dead workers promptly, not every ~100 s
        "unacked_restore_interval": max(1, min(10, s.visibility_timeout // 3)),
        "unacked_restore_throttle": 1,
    }


def make_app(s: Settings, p: Products) -> Celery:
    app = Celery("stats_tracker", include=["tasks.worker"])
    app.conf.update(
        broker_url=s.broker_url,
        broker_connection_retry_on_startup=True,
        broker_transport_options=broker_options(s),
        task_serializer="msgpack",
        accept_content=["msgpack"],
        result_serializer="msgpack",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_default_queue=p.default_queue,
        task_routes=(ProductRouter(p),),
        worker_prefetch_multiplier=2,
        worker_send_task_events=True,  # Flower
        task_send_sent_event=True,
    )
    return app


app = make_app(settings(), products())
