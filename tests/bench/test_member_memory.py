"""The member-encoding memory probe measures what it says (a small board)."""

from __future__ import annotations

from pathlib import Path

from bench.api.member_memory import ENCODINGS, per_member
from tests.support.redis_server import RedisServer, server_version


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


def test_a_uuid_member_fits_in_120_bytes_on_valkey_not_on_redis_7(tmp_path: Path) -> None:
    """The README's memory figures: Valkey 8.1's sorted sets drop the hash entry per
    member (CI's Valkey pass runs this too)."""
    server = RedisServer(tmp_path, appendonly=False)
    server.start()
    try:
        client = server.client(0)
        version = server_version(client)
        uuid_text = next(iter(ENCODINGS.values()))
        size = per_member(client, 20_000, 7, uuid_text)
    finally:
        server.stop()
    if version.startswith("Valkey 8."):
        assert size < 120, f"{version}: {size:.1f} B per member"
    else:
        assert version.startswith("Redis 7."), f"measured on {version}: update the README"
        assert size > 120, f"{version}: {size:.1f} B per member"
