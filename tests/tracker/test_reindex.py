"""python -m tracker.reindex: rebuilds every configured board's tie structures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import redis

from tracker.reindex import reindex_all
from tracker.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def test_reindex_all_boards(settings: Settings, data: redis.Redis) -> None:
    data.zadd("st:{pong}:lb:wins", {"a": 2, "b": 2, "c": 0})  # written by an older version
    data.zadd("st:{exrps}:lb:elo", {"a": 1516.5, "b": 1483.5})
    done = reindex_all(settings)
    assert ("pong", "wins", 3, 2) in done and ("exrps", "elo", 2, 2) in done
    assert ("chess", "elo", 0, 0) in done
    assert data.hgetall("st:{pong}:lb:wins:counts") == {b"2": b"2", b"0": b"1"}
    assert data.zrange("st:{pong}:lb:wins:scores", 0, -1) == [b"0", b"2"]


def test_command_line(settings: Settings, data: redis.Redis) -> None:
    data.zadd("st:{pong}:lb:wins", {"a": 1})
    env = dict(os.environ, TRACKER_REDIS_URL=settings.redis_url,
               TRACKER_PRODUCTS_FILE=settings.products_file)
    out = subprocess.run([sys.executable, "-m", "tracker.reindex"], cwd=REPO, env=env,
                         capture_output=True, text=True, check=True).stdout
    assert "pong/wins: 1 members, 1 distinct scores" in out
