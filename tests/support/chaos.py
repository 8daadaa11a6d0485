"""Chaos runs: traffic flows while workers and bridges are SIGKILLed and servers restart.

:class:`Fleet` keeps a number of real worker and bridge processes running,
kills a random one on request and starts a replacement. :func:`run_chaos`
writes the traffic with a :class:`~tests.support.producer.Producer`, kills a
process every few seconds, runs the scheduled outages (server restarts), then
waits until everything is drained.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support.pipeline import group_drained
from tests.support.processes import Process, start_bridge, start_worker, wait_until
from tests.support.producer import Producer
from tracker.settings import Settings


@dataclass
class Fleet:
    """Worker and bridge processes; killed ones are replaced by new ones."""

    settings: Settings
    log_dir: Path
    queues: Sequence[str]
    rng: random.Random
    concurrency: int = 1
    workers: list[Process] = field(default_factory=list)
    bridges: list[Process] = field(default_factory=list)
    killed: Counter[str] = field(default_factory=Counter)
    gone: list[Process] = field(default_factory=list)  # killed, kept for their logs
    _names: Counter[str] = field(default_factory=Counter)

    def _name(self, kind: str) -> str:
        self._names[kind] += 1
        return f"{kind}{self._names[kind]}"

    def add_worker(self, wait: bool = False) -> Process:
        worker = start_worker(self.settings, self.log_dir, self._name("worker"), self.queues,
                              concurrency=self.concurrency, wait=wait)
        self.workers.append(worker)
        return worker

    def add_bridge(self) -> Process:
        bridge = start_bridge(self.settings, self.log_dir, self._name("bridge"))
        self.bridges.append(bridge)
        return bridge

    def start(self, workers: int, bridges: int) -> None:
        for _ in range(workers):
            self.add_worker(wait=True)
        for _ in range(bridges):
            self.add_bridge()

    def kill_random(self) -> str:
        """SIGKILL a random worker or bridge and start a new one; returns what was killed."""
        kind = self.rng.choice(["worker", "bridge"])
        group = self.workers if kind == "worker" else self.bridges
        victim = group.pop(self.rng.randrange(len(group)))
        victim.kill()
        self.gone.append(victim)
        self.killed[kind] += 1
        if kind == "worker":
            self.add_worker()
        else:
            self.add_bridge()
        return victim.name

    @property
    def running(self) -> list[Process]:
        return self.workers + self.bridges

    def dead(self) -> list[Process]:
        """Processes that exited although nobody killed them."""
        return [p for p in self.running if not p.alive()]

    def stop(self) -> None:
        for p in self.bridges + self.workers:
            p.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.log()[-3000:]}" for p in self.running + self.gone)


@dataclass
class Outage:
    at: float  # seconds after the traffic started
    name: str
    action: Callable[[], None]


@dataclass
class ChaosRun:
    seconds: float = 0.0  # from the first entry written to everything drained
    produce_seconds: float = 0.0
    drain_seconds: float = 0.0  # after chaos stopped
    kills: Counter[str] = field(default_factory=Counter)
    events: list[str] = field(default_factory=list)
    died: list[str] = field(default_factory=list)  # processes that exited on their own


def run_chaos(fleet: Fleet, producer: Producer, outages: Sequence[Outage],
              broker_idle: Callable[[], bool], kill_every: float = 3.0,
              min_seconds: float = 0.0, drain_timeout: float = 240.0) -> ChaosRun:
    """Produce, kill a process every ``kill_every`` s, run ``outages``, then drain.

    Chaos goes on while the producer writes and at least ``min_seconds``.
    """
    run = ChaosRun()
    pending = sorted(outages, key=lambda o: o.at)
    began = time.monotonic()
    producer.start()
    next_kill = began + kill_every
    while producer.is_alive() or time.monotonic() - began < min_seconds or pending:
        now = time.monotonic()
        run.died += [p.name for p in fleet.dead() if p.name not in run.died]
        if pending and now - began >= pending[0].at:
            outage = pending.pop(0)
            run.events.append(f"{now - began:5.1f}s {outage.name}")
            outage.action()
        elif now >= next_kill:
            run.events.append(f"{now - began:5.1f}s SIGKILL {fleet.kill_random()}")
            next_kill = time.monotonic() + kill_every * fleet.rng.uniform(0.7, 1.3)
        if not producer.is_alive() and not run.produce_seconds:
            run.produce_seconds = time.monotonic() - began
        time.sleep(0.1)
    producer.join()
    run.produce_seconds = run.produce_seconds or time.monotonic() - began
    run.kills = fleet.killed
    calm = time.monotonic()
    stream = redis.Redis.from_url(fleet.settings.stream_url, socket_timeout=5)

    def drained() -> bool:
        try:
            return group_drained(stream, fleet.settings) and broker_idle()
        except redis.RedisError:
            return False

    wait_until(drained, drain_timeout, interval=0.5, what="stream drained and broker idle")
    run.died += [p.name for p in fleet.dead() if p.name not in run.died]
    run.drain_seconds = time.monotonic() - calm
    run.seconds = time.monotonic() - began
    return run
