"""The member-encoding memory probe measures what it says (a small board)."""

from __future__ import annotations

from pathlib import Path

from bench.api.member_memory import ENCODINGS, per_member
from tests.support.redis_server import RedisServer


def test_shorter_members_cost_less_and_the_board_holds_them_all(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, appendonly=False)  # its own: the probe runs FLUSHALL
    server.start()
    try:
        client = server.client(0)
        sizes = [per_member(client, 5_000, 7, encode) for encode in ENCODINGS.values()]
        assert client.zcard("{bench}:board") == 5_000
    finally:
        server.stop()
    string, raw, number = sizes
    # a skiplist member holds its string: 36 → 16 → 8 bytes must show
    assert string > raw > number > 40
