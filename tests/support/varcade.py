"""Stream entries exactly as the Varcade game server writes them (reference §3-4)."""

from __future__ import annotations

import uuid

import pytest
import redis

from tracker.events import InvalidEvent, parse_entry

G = "8c4f2b1e9a7d4c3fb6e05a1d2c3b4a59"
P1 = "0b6f3c2a-5d4e-4f81-9a7b-2c3d4e5f6a7b"
P2 = "7e1d9c8b-3a2f-4b6e-8d5c-4f3e2d1c0b9a"
EID = "1700000020003-1"  # an entry id, for entries parsed without a stream

# The reference's example excerpt (§4), field order as on the wire.
EXAMPLE: list[dict[str, str]] = [
    {"product_id": "exrps", "game_id": G, "type": "state_change", "new_state": "creator_joined"},
    {"product_id": "exrps", "game_id": G, "type": "state_change",
     "new_state": "all_players_joined"},
    {"product_id": "exrps", "game_id": G, "type": "gameplay", "event_name": "select_fighter",
     "event_data": "aru", "user_id": P1},
    {"product_id": "exrps", "game_id": G, "type": "gameplay", "event_name": "set_ready",
     "event_data": "", "user_id": P2},
    {"product_id": "exrps", "game_id": G, "type": "gameplay", "event_name": "progression",
     "progress_event": "round_started", "p1_id": P1, "p2_id": P2},
    {"product_id": "exrps", "game_id": G, "type": "gameplay", "event_name": "select_weapon",
     "event_data": "0", "user_id": P1},
    {"product_id": "exrps", "game_id": G, "type": "gameplay", "event_name": "select_weapon",
     "event_data": "null", "user_id": P2},
    {"product_id": "exrps", "game_id": G, "type": "gameplay", "round_winner_id": P1,
     "round_loser_id": P2, "event_name": "progression", "progress_event": "round_finished",
     "p1_id": P1, "p2_id": P2},
    {"product_id": "exrps", "game_id": G, "type": "game_over", "winner_id": P1, "loser_id": P2},
    {"product_id": "exrps", "game_id": G, "type": "game_removed"},
    {"product_id": "exrps", "game_id": "3d9a0c7e5b1f4e2a9c8d7b6a5f4e3d2c",
     "type": "player_disconnect", "player_id": P2},
]


def game_over(product: str, winner: str, loser: str, game_id: str | None = None) -> dict[str, str]:
    return {"product_id": product, "game_id": game_id or uuid.uuid4().hex, "type": "game_over",
            "winner_id": winner, "loser_id": loser}


def submitted(product: str, board: str, user: str, score: float | str, *,
              metadata: str | None = None, operator: str | None = None,
              subscore: int | str | None = None) -> dict[str, str]:
    """A score event (``type = "score"``) as a game that has scores of its own writes it,
    with ``metadata`` (a JSON object's text), ``operator`` and ``subscore`` when given."""
    event = {"product_id": product, "type": "score", "board": board, "user_id": user,
             "score": str(score)}
    if subscore is not None:
        event["subscore"] = str(subscore)
    if metadata is not None:
        event["metadata"] = metadata
    if operator is not None:
        event["operator"] = operator
    return event


def xadd_all(client: redis.Redis, entries: list[dict[str, str]], key: str = "game_event_stream",
             chunk: int = 1000) -> list[str]:
    """XADD each entry with an auto ID, as the game server does; returns the IDs."""
    ids: list[str] = []
    for start in range(0, len(entries), chunk):
        pipe = client.pipeline(transaction=False)
        for fields in entries[start:start + chunk]:
            pipe.xadd(key, fields)  # type: ignore[arg-type]
        ids += [i.decode() if isinstance(i, bytes) else i for i in pipe.execute()]
    return ids


def raw(fields: dict[str, str]) -> dict[bytes, bytes]:
    """An entry's fields as redis-py returns them (bytes, wire order kept)."""
    return {k.encode(): v.encode() for k, v in fields.items()}


def weapon(value: str, **extra: str) -> dict[str, str]:
    """A select_weapon entry of P1 with ``event_data`` = ``value``."""
    return {"product_id": "exrps", "game_id": G, "type": "gameplay",
            "event_name": "select_weapon", "event_data": value, "user_id": P1, **extra}


def reject(fields: dict[bytes, bytes] | dict[str, str], entry_id: str = EID) -> InvalidEvent:
    """The InvalidEvent ``parse_entry`` raises for this entry (the test fails if none)."""
    with pytest.raises(InvalidEvent) as info:
        parse_entry(entry_id, fields)
    return info.value
