"""Every key of a Redis with its content, to compare before and after an operation."""

from __future__ import annotations

import redis


def everything(data: redis.Redis) -> dict[str, object]:
    """Every key's content, by type."""
    found: dict[str, object] = {}
    for key in data.scan_iter(count=1000):
        kind = data.type(key)
        if kind == b"zset":
            found[key.decode()] = dict(data.zrange(key, 0, -1, withscores=True))
        elif kind == b"hash":
            found[key.decode()] = data.hgetall(key)
        elif kind == b"list":
            found[key.decode()] = data.lrange(key, 0, -1)
        elif kind == b"set":
            found[key.decode()] = data.smembers(key)
        elif kind == b"string":
            found[key.decode()] = data.get(key)
        elif kind == b"stream":
            found[key.decode()] = data.xrange(key)
    return found
