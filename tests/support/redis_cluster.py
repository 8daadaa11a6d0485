"""A throwaway Redis Cluster of three masters on free ports, for the tests that prove the
data store runs on a cluster (the data URL is then ``redis+cluster://…``)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis
from redis.cluster import RedisCluster

from tests.support.redis_server import RedisServer, free_port


class RedisClusterServers:
    def __init__(self, workdir: Path, masters: int = 3) -> None:
        # the bus port is given: the default (port + 10000) fails above port 55535
        self.nodes = [RedisServer(workdir / f"node{i}", appendonly=False, extra_args=(
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", "5000", "--cluster-port", str(free_port())))
            for i in range(masters)]

    @property
    def url(self) -> str:
        """The data URL the tracker takes for this cluster (any node: it finds the rest)."""
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    def client(self) -> RedisCluster:
        return RedisCluster(host="127.0.0.1", port=self.nodes[0].port)

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError("redis-cli is not installed (apt-get install redis-tools)")
        subprocess.run([cli, "--cluster", "create",
                        *[f"127.0.0.1:{n.port}" for n in self.nodes],
                        "--cluster-replicas", "0", "--cluster-yes"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            infos = [redis.Redis(port=n.port).cluster("info") for n in self.nodes]
            if all(i.get("cluster_state") == "ok" for i in infos):
                return
            time.sleep(0.1)
        raise RuntimeError("the cluster did not come up")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
