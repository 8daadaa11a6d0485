"""A small process supervisor: children with logs, restart with backoff, ordered stop.

Used by ``tracker stack``. A child that dies is reported and restarted after a
growing delay (1 s, 2 s, 4 s ... ``MAX_BACKOFF``); one that dies ``MAX_DEATHS``
times within ``DEATH_WINDOW`` seconds makes the supervisor give up.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click
import redis

MAX_DEATHS = 5
DEATH_WINDOW = 120.0
MAX_BACKOFF = 30.0

# Stop phases: producers first so nothing new arrives, the store last.
PHASE_DEMO, PHASE_BRIDGE, PHASE_SERVICES, PHASE_REDIS = range(4)


def _parent_death_hook() -> Callable[[], None] | None:
    """Linux: children get SIGTERM if the stack itself is SIGKILLed (no orphans)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

    def hook() -> None:
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG

    return hook


DEATH_HOOK = _parent_death_hook()


@dataclass
class Child:
    """One supervised subprocess."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    phase: int = PHASE_SERVICES
    ready_check: Callable[[Child], bool] | None = None  # None: ready once running
    proc: subprocess.Popen[bytes] | None = None
    log_offset: int = 0  # where this run's output starts in the log
    deaths: list[float] = field(default_factory=list)
    restart_at: float | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== {time.strftime('%F %T')} start: {shlex.join(self.argv)}\n".encode())
            log.flush()
            self.log_offset = log.tell()
            # Own session: a terminal Ctrl-C reaches only us, and we stop children in order.
            self.proc = subprocess.Popen(
                self.argv, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=DEATH_HOOK)
        self.restart_at = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> bool:
        if not self.running:
            return False
        try:
            return self.ready_check(self) if self.ready_check else True
        except (OSError, redis.RedisError):
            return False

    def output(self) -> bytes:
        """This run's log output so far."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self.log_offset)
                return log.read()
        except OSError:
            return b""

    def kill_leftovers(self) -> None:
        """SIGKILL what remains of a dead child's process group (e.g. orphaned
        gunicorn workers still holding the port), before it is started again."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def tail(self, lines: int = 5) -> list[str]:
        return self.output().decode(errors="replace").rstrip().splitlines()[-lines:]

    def signal(self, sig: int, group: bool = False) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        # SIGTERM goes to the leader (Celery and gunicorn stop their own children);
        # SIGKILL to the whole process group, so that nothing survives.
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(self.proc.pid, sig)
            else:
                self.proc.send_signal(sig)


class GaveUp(Exception):
    """A child keeps dying; the stack stops."""


class Supervisor:
    def __init__(self, children: Sequence[Child], echo: Callable[[str], None] = click.echo,
                 max_deaths: int = MAX_DEATHS, window: float = DEATH_WINDOW) -> None:
        self.children = list(children)
        self.echo = echo
        self.max_deaths = max_deaths
        self.window = window

    def check(self, now: float | None = None) -> None:
        """Report dead children and restart them when their delay is over."""
        now = time.monotonic() if now is None else now
        for child in self.children:
            if child.proc is None:
                continue
            if child.restart_at is None and child.proc.poll() is not None:
                child.kill_leftovers()
                child.deaths = [t for t in child.deaths if now - t < self.window] + [now]
                delay = min(2.0 ** (len(child.deaths) - 1), MAX_BACKOFF)
                self.echo(f"[stack] {child.name} exited with code {child.proc.returncode}; "
                          f"last lines of {child.log_path}:")
                for line in child.tail():
                    self.echo(f"    {line}")
                if len(child.deaths) >= self.max_deaths:
                    raise GaveUp(f"{child.name} died {len(child.deaths)} times in "
                                 f"{self.window:.0f} s; stopping everything")
                self.echo(f"[stack] restarting {child.name} in {delay:.0f} s")
                child.restart_at = now + delay
            elif child.restart_at is not None and now >= child.restart_at:
                child.start()

    def stop_all(self, timeout: float = 10.0, force: threading.Event | None = None) -> None:
        """SIGTERM phase by phase; SIGKILL what is still running after ``timeout``."""
        for phase in sorted({c.phase for c in self.children}):
            group = [c for c in self.children if c.phase == phase and c.running]
            for child in group:
                child.signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while any(c.running for c in group) and time.monotonic() < deadline:
                if force is not None and force.is_set():
                    break
                time.sleep(0.1)
            for child in group:
                if child.running:
                    self.echo(f"[stack] {child.name} did not stop in time: SIGKILL")
                child.signal(signal.SIGKILL, group=True)  # also reaps leftovers of its group
                if child.proc is not None:
                    child.proc.wait()


# --- plan ---------------------------------------------------------------------
