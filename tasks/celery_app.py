"""The Celery application: broker, serialization, acks and routing.

Reliability settings (see the README's delivery guarantees):
- late acks and requeue on worker loss: a task is acknowledged only after its
  batch is in Redis, so a killed worker's batch runs again elsewhere;
- that redelivery is harmless because applying a batch is idempotent;
- msgpack bodies carry the stream entries' raw bytes unchanged (and compactly);
- RabbitMQ: publisher confirms and durable quorum queues.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from celery import Celery
from kombu.entity import Exchange, Queue

from tasks.routing import PERIODIC, ProductRouter
from tracker.products import Products, load_products
from tracker.settings import Settings


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def products() -> Products:
    return load_products(settings().products_path)


def is_amqp(url: str) -> bool:
    return url.startswith(("amqp", "pyamqp"))


def broker_options(s: Settings) -> dict[str, Any]:
    if is_amqp(s.broker_url):
        # the broker confirms every published task before apply_async returns
        return {"confirm_publish": True}
    return {
        "visibility_timeout": s.visibility_timeout,
        # restore unacked messages of dead workers promptly, not every ~100 s
        "unacked_restore_interval": max(1, min(10, s.visibility_timeout // 3)),
        "unacked_restore_throttle": 1,
        # a worker killed while restoring holds this lock: let it expire soon
        # (kombu's default of 300 s stalls every restore for five minutes)
        "unacked_mutex_expire": max(5, min(300, s.visibility_timeout // 3)),
    }


def quorum_queues(p: Products) -> tuple[Exchange, list[Queue]]:
    """RabbitMQ: durable quorum queues, one per configured queue name.

    The exchange is a topic exchange, as Celery's native delayed delivery (its
    way of running countdown retries on quorum queues) requires.
    """
    exchange = Exchange("stats_tracker", type="topic", durable=True)  # type: ignore[no-untyped-call]
    queues = [Queue(name, exchange, routing_key=name, durable=True,  # type: ignore[no-untyped-call]
                    queue_arguments={"x-queue-type": "quorum"}) for name in p.queues]
    return exchange, queues


def make_app(s: Settings, p: Products) -> Celery:
    app = Celery("stats_tracker", include=["tasks.worker", "tasks.analysis", "tasks.periodic"])
    app.conf.update(
        broker_url=s.broker_url,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a worker never gives up on the broker
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
        # no "task sent" event per batch: it cost the bridge ~10% of its CPU
        # (bench/README.md); Flower still sees every task through worker events
        task_send_sent_event=False,
        # Celery beat (tasks/periodic.py): closes periods, catches course analyses up. A
        # run not started before the next is due is dropped: a worker that was down
        # does not come back to a pile of identical runs.
        beat_schedule={name: {"task": name, "schedule": float(s.periodic_seconds),
                              "options": {"expires": float(s.periodic_seconds)}}
                       for name in PERIODIC},
    )
    if s.broker_url.startswith(("redis://", "rediss://")):
        app.conf.broker_transport = "tasks.broker_redis:Transport"  # see that module
    if is_amqp(s.broker_url):
        exchange, queues = quorum_queues(p)
        app.conf.update(
            task_queues=queues,
            task_default_exchange=exchange.name,
            task_default_exchange_type=exchange.type,
            task_default_routing_key=p.default_queue,
            task_create_missing_queues=False,
        )
    return app


app = make_app(settings(), products())
