"""A throwaway redis-server on a free port, that tests may kill and restart."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_version(client: redis.Redis) -> str:
    """``Redis 7.0.15``, or ``Valkey 8.1.1`` (which reports Redis 7.2.4 as its redis_version)."""
    info = client.info("server")
    if "valkey_version" in info:
        return f"Valkey {info['valkey_version']}"
    return f"Redis {info['redis_version']}"


def wait_for_ping(port: int, timeout: float = 20) -> redis.Redis:
    """A client of the server on ``port`` once it answers (decoded replies)."""
    client = redis.Redis(port=port, decode_responses=True)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if client.ping():
                return client
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


class RedisServer:
    """``redis-server`` with AOF persistence (as in compose) in a private directory."""

    def __init__(self, workdir: Path, port: int | None = None, appendonly: bool = True,
                 extra_args: tuple[str, ...] = (), unix_socket: bool = False):
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.binary = binary
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.appendonly = appendonly
        self.extra_args = extra_args
        self.unix_socket = unix_socket  # also listen on socket_path (keep workdir short)
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    @property
    def socket_path(self) -> Path:
        """Its unix socket, beside TCP (the read API may reach a co-located Redis there)."""
        return self.workdir / "redis.sock"

    def unix_url(self, db: int = 0) -> str:
        return f"unix://{self.socket_path}?db={db}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis.from_url(self.url(db))

    def start(self) -> None:
        args = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.workdir), "--save", "",
            "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "always",
            "--maxmemory-policy", "noeviction", "--logfile", "redis.log", "--databases", "16",
            *(("--unixsocket", str(self.socket_path), "--unixsocketperm", "700")
              if self.unix_socket else ()),
            *self.extra_args,
        ]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                # ready once it answers and any AOF reload (after a restart) is over
                if self.client().ping() and not self.client().info("persistence").get("loading"):
                    return
            except (redis.ConnectionError, redis.BusyLoadingError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: what a crash looks like; AOF with fsync always keeps acked writes."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self.proc = None

    def restart(self, down_for: float = 0.0) -> None:
        self.kill()
        time.sleep(down_for)
        self.start()


@contextmanager
def private_redis() -> Iterator[RedisServer]:
    """A redis-server without persistence in a temporary directory, for one block."""
    with tempfile.TemporaryDirectory(prefix="redis-") as workdir:
        server = RedisServer(Path(workdir), appendonly=False)
        server.start()
        try:
            yield server
        finally:
            server.stop()
