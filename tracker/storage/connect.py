"""The data Redis client: a standalone Redis, or a Redis Cluster for ``redis+cluster://``.

Every key of a product shares its hash tag (:mod:`tracker.storage.keys`), as do the
keys of one course and the dead letters, so each batch script, rank read and
transaction stays within one cluster slot. A cluster has only database 0.
"""

from __future__ import annotations

from typing import Any, cast

import redis
from redis.cluster import RedisCluster

CLUSTER_SCHEME = "redis+cluster://"


def is_cluster(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEME)


def data_client(url: str, **options: Any) -> redis.Redis:
    """A client of the data Redis at ``url`` (``TRACKER_REDIS_URL``).

    ``redis+cluster://host:port`` names any node of a Redis Cluster: the client
    finds the others and sends each command to the node of its key. The cluster
    client speaks the same commands, so it is typed as the plain one.
    """
    if is_cluster(url):
        options.pop("single_connection_client", None)  # one connection per node instead
        options.pop("health_check_interval", None)
        return cast(redis.Redis, RedisCluster.from_url(
            "redis://" + url.removeprefix(CLUSTER_SCHEME), **options))
    return redis.Redis.from_url(url, **options)
