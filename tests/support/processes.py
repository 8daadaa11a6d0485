"""Real worker and bridge processes for pipeline tests (killable with SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import fields
from pathlib import Path
from typing import TypeVar

from tracker.settings import Settings

T = TypeVar("T")
BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]  # the repository: test-only handlers import from it


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a child process needs to use ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    for f in fields(settings):
        env[f"TRACKER_{f.name.upper()}"] = str(getattr(settings, f.name))
    env["PYTHONUNBUFFERED"] = "1"  # a SIGKILLed process's log is complete up to its death
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


class Process:
    """A child process whose output goes to a log file the test can read."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group (a prefork worker's children too)."""
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()

    def stop(self, timeout: float = 15) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()


def start_worker(settings: Settings, log_dir: Path, name: str, queues: Iterable[str],
                 concurrency: int = 1, pool: str = "prefork", wait: bool = True) -> Process:
    """A ``celery worker`` process; ``wait``: return once it says it is ready."""
    args = [str(BIN / "celery"), "-A", "tasks", "worker", "-Q", ",".join(queues),
            "-n", f"{name}@%h", "--pool", pool, "--concurrency", str(concurrency),
            "--loglevel", "INFO", "--without-gossip", "--without-mingle"]
    worker = Process(name, args, settings_env(settings), log_dir)
    if wait:
        wait_until(lambda: "ready." in worker.log() or not worker.alive(), 60,
                   what=f"{name} ready")
        assert worker.alive(), worker.log()
    return worker


def start_bridge(settings: Settings, log_dir: Path, name: str) -> Process:
    args = [str(BIN / "tracker"), "bridge", "--consumer", name]
    return Process(name, args, settings_env(settings), log_dir)


def wait_until(check: Callable[[], T], timeout: float, interval: float = 0.1,
               what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
