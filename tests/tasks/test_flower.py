"""Flower, started as the README says, lists the running worker through its API and
exports what the shipped alerting rules read of it."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

from tests.support.processes import BIN, Process, settings_env, start_worker, wait_until
from tests.support.prometheus import exported, monitored_series
from tests.support.redis_server import free_port
from tests.test_compose import healthcheck_argv
from tracker.products import Products
from tracker.settings import Settings


def test_flower_api_lists_the_running_worker(settings: Settings, products: Products,
                                             tmp_path: Path) -> None:
    worker = start_worker(settings, tmp_path, "flowerseen", products.queues)
    port = free_port()
    # as compose and the stack run it, but forgetting dead workers after 1 s, not 60
    flower = Process("flower", [str(BIN / "celery"), "-A", "tasks", "flower",
                                "--address=127.0.0.1", f"--port={port}",
                                "--purge_offline_workers=1"],
                     settings_env(settings, FLOWER_UNAUTHENTICATED_API="true"), tmp_path)

    def workers() -> dict[str, object]:
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/workers?refresh=1", timeout=10) as resp:
                body: dict[str, object] = json.load(resp)
                return body
        except OSError:
            return {}

    try:
        found = wait_until(lambda: [n for n in workers() if n.startswith("flowerseen@")], 60,
                           interval=0.5, what="Flower to list the worker")
        assert found
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthcheck", timeout=10) as resp:
            assert resp.read() == b"OK"
        check = subprocess.run(healthcheck_argv("flower", port), capture_output=True, timeout=30)
        assert check.returncode == 0, check.stderr  # compose's health check, run here

        # the worker's heartbeat events reach Flower's metrics, which the alerting rules
        # and the dashboard of docker/ read
        def metrics() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
                return r.read().decode()

        seen = f'flower_worker_online{{worker="{found[0]}"}}'

        def online() -> str:
            text = metrics()
            return text if f"{seen} 1.0" in text else ""

        text = wait_until(online, 30, interval=0.5, what="Flower's metrics to show the worker")
        flower_series = monitored_series("flower_")
        assert flower_series and flower_series <= exported(text)

        # a SIGKILLed worker sends no worker-offline event: Flower forgets it once its
        # heartbeats stop, so the alert on no worker online sees it gone
        worker.kill()
        wait_until(lambda: seen not in metrics(), 60, interval=1,
                   what="Flower's metrics to forget the killed worker")
    finally:
        flower.stop()
        worker.stop()
