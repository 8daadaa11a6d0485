"""The Celery configuration for each broker: the settings the delivery guarantees rely on."""

from __future__ import annotations

from tasks.celery_app import make_app
from tests.conftest import TEST_PRODUCTS
from tracker.products import load_products
from tracker.settings import Settings

PRODUCTS = load_products(TEST_PRODUCTS)


def test_every_broker_gets_late_acks_and_never_stops_reconnecting() -> None:
    for url in ("redis://127.0.0.1:6379/2", "amqp://guest:guest@127.0.0.1:5672//"):
        conf = make_app(Settings(broker_url=url), PRODUCTS).conf
        assert conf.task_acks_late and conf.task_reject_on_worker_lost
        assert conf.broker_connection_max_retries is None


def test_rabbitmq_uses_publisher_confirms_and_durable_quorum_queues() -> None:
    conf = make_app(Settings(broker_url="amqp://guest:guest@127.0.0.1:5672//"), PRODUCTS).conf
    assert conf.broker_transport_options == {"confirm_publish": True}
    assert sorted(q.name for q in conf.task_queues) == sorted(PRODUCTS.queues)
    for queue in conf.task_queues:
        assert queue.durable and queue.queue_arguments == {"x-queue-type": "quorum"}
        assert queue.exchange.type == "topic"  # native delayed delivery (countdown retries)
    assert conf.worker_detect_quorum_queues  # no global QoS on quorum queues
    assert conf.broker_transport is None


def test_the_redis_broker_restores_a_dead_workers_tasks_promptly() -> None:
    conf = make_app(Settings(broker_url="redis://127.0.0.1:6379/2", visibility_timeout=30),
                    PRODUCTS).conf
    assert conf.broker_transport == "tasks.broker_redis:Transport"
    assert conf.broker_transport_options == {
        "visibility_timeout": 30, "unacked_restore_interval": 10, "unacked_restore_throttle": 1,
        "unacked_mutex_expire": 10}
    assert make_app(Settings(), PRODUCTS).conf.broker_transport_options[
        "unacked_mutex_expire"] == 300


def test_beat_runs_the_periodic_tasks_and_drops_stale_runs() -> None:
    app = make_app(Settings(periodic_seconds=30), load_products(TEST_PRODUCTS))
    schedule = app.conf.beat_schedule
    assert {entry["task"] for entry in schedule.values()} == {
        "tasks.close_periods", "tasks.run_reward_hooks", "tasks.catch_up_analyses"}
    assert all(entry["schedule"] == 30.0 and entry["options"] == {"expires": 30.0}
               for entry in schedule.values())
