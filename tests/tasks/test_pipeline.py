"""End to end with real parts: XADD as Varcade writes → bridge → Celery worker → Redis."""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from api import create_app
from tasks.cli import main
from tests.support.pipeline import (
    expected_stats,
    expected_wins,
    in_flight,
    snapshot,
    wait_for_pipeline,
)
from tests.support.processes import (
    Process,
    settings_env,
    start_bridge,
    start_worker,
    wait_until,
)
from tests.support.varcade import EXAMPLE, game_over, submitted, xadd_all
from tracker.products import Products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Ranks, Store

PLAYERS = [str(uuid.UUID(int=i + 1)) for i in range(15)]


def traffic(seed: int = 7) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows: list[dict[str, str]] = list(EXAMPLE)
    for _ in range(400):
        product = rng.choice(["exrps", "exrps", "pong", "chess"])
        winner, loser = rng.sample(PLAYERS, 2)
        rows.append(game_over(product, winner, loser))
        if product == "exrps":
            for player in (winner, loser):
                rows.append({"product_id": "exrps", "game_id": rows[-1]["game_id"],
                             "type": "gameplay", "event_name": "select_weapon",
                             "event_data": rng.choice(["0", "1", "2", "null", "7"]),
                             "user_id": player})
    return rows


def submissions(seed: int = 5) -> list[dict[str, str]]:
    """snake's players submitting their own scores (tests/products.toml)."""
    rng = random.Random(seed)
    return [submitted("snake", rng.choice(["high_score", "total", "lap"]),
                      rng.choice(PLAYERS[:6]), rng.randint(-2, 40), metadata=f'{{"run": {i}}}')
            for i in range(200)]


def best_scores(rows: list[dict[str, str]]) -> dict[str, tuple[float, str]]:
    """Each player's best high_score, with the metadata of the submission that first
    reached it."""
    best: dict[str, tuple[float, str]] = {}
    for row in rows:
        score, user = float(row["score"]), row["user_id"]
        if row["board"] == "high_score" and score > best.get(user, (-1e9, ""))[0]:
            best[user] = (score, row["metadata"])
    return best


BAD = [
    submitted("snake", "hi_score", PLAYERS[0], 3),  # a board snake does not keep
    game_over("unknown-game", PLAYERS[0], PLAYERS[1]),
    game_over("exrps", PLAYERS[0], PLAYERS[0]),  # self-play
    {"product_id": "exrps", "type": "nonsense"},
]


@pytest.fixture
def running(settings: Settings, products: Products, tmp_path: Path) -> Iterator[list[Process]]:
    procs = [start_worker(settings, tmp_path, "w1", products.queues, concurrency=2)]
    procs.append(start_bridge(settings, tmp_path, "b1"))
    yield procs
    for p in procs:
        p.stop()


def test_stream_to_redis_matches_an_independent_count(
        running: list[Process], settings: Settings, products: Products, stream: redis.Redis,
        store: Store, dead_letters: DeadLetters) -> None:
    rows, scores = traffic(), submissions()
    xadd_all(stream, rows + scores + BAD, key=settings.stream_key)
    wait_for_pipeline(settings, products.queues)

    for product in ("exrps", "pong"):
        wins = expected_wins(rows, product)
        board = dict(store.top(product, "wins", count=len(PLAYERS) + 5))
        assert board == {p: float(n) for p, n in wins.items()}
        for player, stats in expected_stats(rows, product).items():
            assert store.player_stats(product, player) == dict(stats)
    # the two Varcade routes answer what the independent count says
    client = create_app(settings).test_client()
    wins = expected_wins(rows, "exrps")
    top = client.get("/leaderboards/top_ten/exrps").get_json()
    best = sorted(wins.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert [row["score"] for row in top] == [float(n) for _, n in best]
    assert all(wins[row["user_id"]] == row["score"] for row in top)
    for player, stats in expected_stats(rows, "exrps").items():
        answer = client.get(f"/stats/exrps/{player}").get_json()
        assert answer == {k: str(v) for k, v in stats.items()}

    elo = dict(store.top("chess", "elo", count=100))
    assert sum(elo.values()) == len(elo) * 1200  # zero-sum, exactly
    high = {u: (s.score, s.record and s.record.metadata) for u in best_scores(scores)
            if (s := Ranks(store.client).standing("snake", "high_score", u, earliest=True,
                                                  records="high_score"))}
    assert high == best_scores(scores)
    assert sorted(d.reason for d in dead_letters.list()) == \
        ["invalid_fields", "unknown_board", "unknown_product", "unknown_type"]


def test_replaying_the_stream_changes_nothing(
        running: list[Process], settings: Settings, products: Products, stream: redis.Redis,
        data: redis.Redis) -> None:
    rows = traffic(seed=11) + submissions(seed=3) + BAD
    xadd_all(stream, rows, key=settings.stream_key)
    wait_for_pipeline(settings, products.queues)
    before = snapshot(data)
    assert len(before) > 20
    totals = Store(data).counters(sorted(products))
    applied = sum(t.get("applied", 0) for t in totals.values())
    assert applied > 0 and not any(t.get("duplicates") for t in totals.values())

    # every entry read again, as after losing the data: `tracker replay` from the start
    replay = CliRunner(env=settings_env(settings)).invoke(
        main, ["replay", "--since", "start", "--yes", "--wait"])
    assert replay.exit_code == 0, replay.output
    assert f"{len(rows):,} entries from the start on will be read again" in replay.output
    assert "read again;" in replay.output  # --wait followed the bridge back to the end
    lag = stream.xinfo_groups(settings.stream_key)[0]["lag"]
    assert lag == 0  # the group's count of entries read was kept right
    wait_for_pipeline(settings, products.queues)
    after = snapshot(data)
    assert after == before
    # the monitoring totals saw every applied entry come again as a duplicate
    totals = Store(data).counters(sorted(products))
    assert sum(t.get("applied", 0) for t in totals.values()) == applied
    assert sum(t.get("duplicates", 0) for t in totals.values()) == applied


def test_a_replay_while_parts_are_in_flight_loses_nothing_and_counts_nothing_twice(
        settings: Settings, products: Products, stream: redis.Redis, store: Store,
        dead_letters: DeadLetters, tmp_path: Path) -> None:
    """The README's replay after a crash of the data Redis, while the parts read before it
    are still in flight (their workers stopped): the group moved back to 0, a bridge with
    bigger parts reads every entry again, so parts start at the same entries as before
    and run further. Every entry is applied once, and the in-flight count comes back to
    0 (the bridges' flow control depends on it)."""
    rows = traffic(seed=13)
    xadd_all(stream, rows, key=settings.stream_key)
    small = dataclasses.replace(settings, batch_size=40)
    bridge = start_bridge(small, tmp_path, "b-small")
    last = stream.xinfo_stream(settings.stream_key)["last-generated-id"]
    flight = in_flight(stream, settings)
    try:
        wait_until(lambda: [g["last-delivered-id"] for g in stream.xinfo_groups(
            settings.stream_key)] == [last], 60, what="every entry read into parts")
    finally:
        bridge.stop()
    first_read = set(flight.part_names())
    assert flight.count() == len(rows) and len(first_read) > 10

    stream.xgroup_setid(settings.stream_key, settings.stream_group, id="0")
    procs = [start_bridge(settings, tmp_path, "b-big")]
    try:
        wait_until(lambda: flight.count() == 2 * len(rows), 60, what="read again")
        again = set(flight.part_names()) - first_read
        assert any("~1/" in name for name in again)  # a part of the same first entry
        procs.append(start_worker(settings, tmp_path, "w1", products.queues, concurrency=2))
        wait_for_pipeline(settings, products.queues)
    finally:
        for p in procs:
            p.stop()
    for product in ("exrps", "pong"):
        board = dict(store.top(product, "wins", count=len(PLAYERS) + 5))
        assert board == {p: float(n) for p, n in expected_wins(rows, product).items()}
        for player, stats in expected_stats(rows, product).items():
            assert store.player_stats(product, player) == dict(stats)
    # each entry applied once (those no handler uses: ignored), its second reading skipped
    totals = store.counters(sorted(products))
    applied = sum(t.get("applied", 0) for t in totals.values())
    assert applied == sum(t.get("duplicates", 0) for t in totals.values())
    assert len(rows) - len(EXAMPLE) <= applied < len(rows) and dead_letters.list() == []
    assert flight.count() == 0 and flight.part_names() == []
