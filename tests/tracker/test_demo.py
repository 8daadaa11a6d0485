"""The demo producer writes whole, valid exrps matches in the Varcade wire format,
and snake runs' score submissions between them."""

from __future__ import annotations

import itertools
import json
import random
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
import redis
from click.testing import CliRunner

from tests.conftest import TEST_PRODUCTS
from tracker.demo import (
    FIGHTERS,
    SCORE_BOARDS,
    SCORE_PRODUCT,
    Player,
    Traffic,
    demo_command,
    match_entries,
    player_pool,
    run_demo,
    snake_configured,
)
from tracker.events import parse_entry
from tracker.settings import Settings

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
GAME_ID_RE = re.compile(r"^[0-9a-f]{32}$")
ROUND_FINISHED_ORDER = ["product_id", "game_id", "type", "round_winner_id", "round_loser_id",
                        "event_name", "progress_event", "p1_id", "p2_id"]


def game_id_source() -> Callable[[], str]:
    counter = itertools.count()
    return lambda: f"{next(counter):032x}"


def read_stream(client: redis.Redis, key: str) -> list[tuple[str, dict[str, str]]]:
    """The stream's entries, decoded, fields in the order they were written."""
    entries = cast("list[tuple[bytes, dict[bytes, bytes]]]", client.xrange(key))
    return [(i.decode(), {k.decode(): v.decode() for k, v in f.items()}) for i, f in entries]


def check_match(entries: list[dict[str, str]]) -> str | None:
    """Assert one match obeys reference §3.2; return the winner id, or None if abandoned."""
    assert all(isinstance(v, str) for e in entries for v in e.values())
    assert all(list(e)[:3] == ["product_id", "game_id", "type"] for e in entries)
    assert len({e["game_id"] for e in entries}) == 1
    assert GAME_ID_RE.match(entries[0]["game_id"])
    assert [(e["type"], e.get("new_state")) for e in entries[:2]] == [
        ("state_change", "creator_joined"), ("state_change", "all_players_joined")]
    assert list(entries[-1].items())[2:] == [("type", "game_removed")]
    end = entries[-2]
    abandoned = end["type"] == "player_disconnect"
    if abandoned:
        assert list(end)[3:] == ["player_id"]
    else:
        assert list(end)[3:] == ["winner_id", "loser_id"] and end["type"] == "game_over"
    body = entries[2:-2]
    assert all(e["type"] == "gameplay" for e in body), "one game_over/disconnect, at the end"

    # select_fighter P1, P2 then set_ready P1, P2 (an abandoned match may stop part-way).
    prelude = list(itertools.takewhile(
        lambda e: e["event_name"] in ("select_fighter", "set_ready"), body))
    names = [e["event_name"] for e in prelude]
    full = ["select_fighter"] * 2 + ["set_ready"] * 2
    assert names == full or (abandoned and prelude == body and names == full[:len(names)])
    assert all(e["event_data"] in FIGHTERS for e in prelude if e["event_name"] == "select_fighter")
    assert all(e["event_data"] == "" for e in prelude if e["event_name"] == "set_ready")
    users = [e["user_id"] for e in prelude]
    assert users == (users[:2] * 2)[:len(users)] and len(set(users)) == min(len(users), 2)

    # Rounds: round_started, weapon pairs (P1 then P2), round_finished; no draws.
    round_wins: Counter[str] = Counter()
    in_round, pairs, p1, p2 = False, 0, "", ""
    rest = body[len(prelude):]
    i = 0
    while i < len(rest):
        e = rest[i]
        if e.get("progress_event") == "round_started":
            assert not in_round and list(e)[3:] == ["event_name", "progress_event", "p1_id",
                                                    "p2_id"]
            in_round, pairs, p1, p2 = True, 0, e["p1_id"], e["p2_id"]
            assert UUID_RE.match(p1) and UUID_RE.match(p2) and p1 != p2
            assert [p1, p2] == users[:2], "P1 is the host, who picked a fighter first"
            i += 1
        elif e["event_name"] == "select_weapon":
            assert in_round and i + 1 < len(rest), "select_weapon comes in pairs within a round"
            second = rest[i + 1]
            assert second["event_name"] == "select_weapon"
            assert (e["user_id"], second["user_id"]) == (p1, p2), "P1 first, then P2"
            assert list(e)[3:] == list(second)[3:] == ["event_name", "event_data", "user_id"]
            pairs += 1
            i += 2
        elif e.get("progress_event") == "round_finished":
            assert in_round and pairs >= 3, "a round takes at least three hits"
            assert list(e) == ROUND_FINISHED_ORDER
            assert (e["p1_id"], e["p2_id"]) == (p1, p2)
            assert {e["round_winner_id"], e["round_loser_id"]} == {p1, p2}
            round_wins[e["round_winner_id"]] += 1
            in_round = False
            i += 1
        else:
            raise AssertionError(f"unexpected entry: {e}")
    assert all(n <= 2 for n in round_wins.values())
    if abandoned:
        assert end["player_id"] == users[1] if len(users) > 1 else UUID_RE.match(end["player_id"])
        return None
    assert not in_round
    assert sum(round_wins.values()) in (2, 3)
    winner = end["winner_id"]
    assert round_wins[winner] == 2, "the game_over winner won exactly two rounds"
    assert end["loser_id"] in (p1, p2) and end["loser_id"] != winner
    assert round_wins[end["loser_id"]] < 2
    return winner


def test_player_pool_is_deterministic_canonical_uuids() -> None:
    pool = player_pool(30, seed=5)
    assert pool == player_pool(30, seed=5)
    assert [p.id for p in pool] != [p.id for p in player_pool(30, seed=6)]
    assert len({p.id for p in pool}) == 30
    assert all(UUID_RE.match(p.id) for p in pool)
    skills = sorted(p.skill for p in pool)
    assert skills[-1] > 2 * skills[0], "some players are clearly stronger"
    with pytest.raises(ValueError):
        player_pool(1)


@pytest.mark.parametrize("seed", range(40))
def test_every_match_is_valid_and_shaped_like_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    p1, p2 = rng.sample(player_pool(), 2)
    entries = match_entries(rng, p1, p2, disconnect_rate=0.0 if seed % 4 else 1.0)
    for n, entry in enumerate(entries):
        event = parse_entry(f"1700000000000-{n}", entry)
        assert event.product_id == "exrps"
    winner = check_match(entries)
    if seed % 4:
        assert winner in (p1.id, p2.id)
        assert entries[0]["game_id"] != match_entries(rng, p1, p2)[0]["game_id"]
    else:
        assert winner is None
        assert not any(e["type"] == "game_over" for e in entries)


def test_weapon_values_and_outcomes_over_many_matches() -> None:
    rng = random.Random(11)
    strong = Player("00000000-0000-4000-8000-000000000001", 2.5, (1.0, 1.0, 1.0), "aru")
    weak = Player("00000000-0000-4000-8000-000000000002", 1.0, (3.0, 1.0, 1.0), "hog")
    winners: Counter[str | None] = Counter()
    values: Counter[str] = Counter()
    for _ in range(300):
        entries = match_entries(rng, strong, weak)
        winners[check_match(entries)] += 1
        values.update(e["event_data"] for e in entries if e.get("event_name") == "select_weapon")
    assert winners[None] > 0, "a few matches are abandoned"
    assert winners[None] < 40
    assert winners[strong.id] > 4 * winners[weak.id] > 0, "the stronger player usually wins"
    assert {"0", "1", "2", "null"} <= set(values)
    nonstandard = sum(n for v, n in values.items() if v not in ("0", "1", "2", "null"))
    assert 0 < nonstandard < values["null"] < values["0"] / 5


def test_traffic_interleaves_whole_matches_and_respects_max_matches() -> None:
    pool = player_pool(10, seed=2)
    traffic = Traffic(random.Random(4), pool, max_matches=60, concurrency=4)
    entries = list(traffic.entries())
    by_game: dict[str, list[dict[str, str]]] = defaultdict(list)
    for entry in entries:
        by_game[entry["game_id"]].append(entry)
    assert len(by_game) == 60 == traffic.started
    outcomes = [check_match(m) for m in by_game.values()]
    assert traffic.finished == sum(o is not None for o in outcomes)
    assert traffic.disconnected == sum(o is None for o in outcomes)
    # Matches overlap in the stream, as on a busy server.
    firsts = [entries.index(m[0]) for m in by_game.values()]
    lasts = [max(i for i, e in enumerate(entries) if e["game_id"] == g) for g in by_game]
    assert sum(1 for a, b in zip(lasts, firsts[1:], strict=False) if b < a) > 10
    # No player plays two matches at once while the pool allows it (10 players, 4 matches).
    span = {g: (entries.index(m[0]), entries.index(m[-1])) for g, m in by_game.items()}
    who = {g: {e["user_id"] for e in m if "user_id" in e} for g, m in by_game.items()}
    for a, b in itertools.combinations(by_game, 2):
        if span[a][0] < span[b][1] and span[b][0] < span[a][1]:
            assert not who[a] & who[b]
    assert set().union(*who.values()) <= {p.id for p in pool}


SCORE_ORDER = ["product_id", "game_id", "type", "board", "user_id", "score", "metadata"]


def test_traffic_mixes_in_snake_runs_between_whole_matches() -> None:
    pool = player_pool(20, seed=3)
    traffic = Traffic(random.Random(5), pool, max_matches=80, score_share=0.1)
    segments = list(iter(traffic.next_segment, None))
    runs = [seg for seg in segments if seg[0]["type"] == "score"]
    assert 0.06 < len(runs) / len(segments) < 0.14, "about score_share of the segments"
    assert traffic.scores == 3 * len(runs) and traffic.started == 80

    matches: dict[str, list[dict[str, str]]] = defaultdict(list)
    for seg in segments:
        if seg not in runs:
            for entry in seg:
                matches[entry["game_id"]].append(entry)
    assert len(matches) == 80
    for match in matches.values():
        check_match(match)  # still whole and in order, whatever came between

    skill = {p.id: p.skill for p in pool}
    by_skill: list[tuple[float, int]] = []
    n = 0
    for run in runs:
        assert [list(e) for e in run] == [SCORE_ORDER] * 2 + [[*SCORE_ORDER, "subscore"]]
        assert [e["board"] for e in run] == list(SCORE_BOARDS)
        assert {(e["product_id"], e["game_id"], e["user_id"], e["score"]) for e in run} == {
            (SCORE_PRODUCT, run[0]["game_id"], run[0]["user_id"], run[0]["score"])}
        assert GAME_ID_RE.match(run[0]["game_id"]) and run[0]["game_id"] not in matches
        score = int(run[0]["score"])
        assert score > 0 and score % 10 == 0
        detail = json.loads(run[0]["metadata"])
        assert run[1]["metadata"] == run[2]["metadata"] == run[0]["metadata"]
        assert detail["fruit"] * 10 == score and 3 * detail["fruit"] <= detail["seconds"]
        assert int(run[2]["subscore"]) == round(detail["seconds"] * 1000)  # fastest: the ms
        by_skill.append((skill[run[0]["user_id"]], score))
        for entry in run:
            event = parse_entry(f"1700000000000-{n}", entry)
            n += 1
            assert (event.type, event.product_id) == ("score", SCORE_PRODUCT)
    by_skill.sort()
    half = len(by_skill) // 2
    weak, strong = by_skill[:half], by_skill[half:]
    assert sum(s for _, s in strong) / len(strong) > 1.5 * sum(s for _, s in weak) / len(weak)
    assert len({s for _, s in by_skill}) < len(by_skill), "equal scores happen"


def test_snake_is_configured_in_the_shipped_and_test_products(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TRACKER_PRODUCTS_FILE", raising=False)
    assert snake_configured(), "the shipped products keep snake's three boards"
    monkeypatch.setenv("TRACKER_PRODUCTS_FILE", str(TEST_PRODUCTS))
    assert snake_configured()
    other = tmp_path / "products.toml"
    other.write_text('[products]\nsnake = { handlers = [{ use = "score", board = "total" }] }\n')
    monkeypatch.setenv("TRACKER_PRODUCTS_FILE", str(other))
    assert not snake_configured(), "no high_score board: its scores would be dead letters"
    other.write_text("[products\n")
    assert not snake_configured()
    monkeypatch.setenv("TRACKER_PRODUCTS_FILE", str(tmp_path / "missing.toml"))
    assert not snake_configured()


def test_run_demo_writes_exactly_the_generated_entries(stream: redis.Redis,
                                                       settings: Settings) -> None:
    pool = player_pool(12, seed=9)
    expected = list(Traffic(random.Random(21), pool, max_matches=25,
                            game_ids=game_id_source(), score_share=0.1).entries())
    stats = run_demo(stream, settings.stream_key, rate=0, max_matches=25, players=pool,
                     rng=random.Random(21), game_ids=game_id_source(), score_share=0.1)
    written = read_stream(stream, settings.stream_key)
    assert stats.events == len(expected) == len(written) and stats.dropped == 0
    assert stats.scores == sum(e["type"] == "score" for e in expected) > 0
    assert stats.finished + stats.disconnected == 25
    assert [list(f.items()) for _, f in written] == [list(e.items()) for e in expected]  # order
    for entry_id, fields in written:
        parse_entry(entry_id, fields)


def test_run_demo_paces_and_stops_promptly(stream: redis.Redis, settings: Settings) -> None:
    began = time.monotonic()
    stats = run_demo(stream, settings.stream_key, rate=400, max_matches=4, players=player_pool(8))
    elapsed = time.monotonic() - began
    assert stats.events == stream.xlen(settings.stream_key)
    assert elapsed >= (stats.events - 40) / 400, "about --rate entries per second"

    stop = threading.Event()
    progress: list[int] = []
    worker = threading.Thread(target=run_demo, args=(stream, "other_stream", 50.0), kwargs={
        "stop": stop, "progress": lambda s: progress.append(s.events), "progress_every": 0.2})
    worker.start()
    time.sleep(0.7)
    stop.set()
    worker.join(2)
    assert not worker.is_alive(), "stop ends an endless demo at once"
    assert progress and 10 <= stream.xlen("other_stream") <= 60


def test_demo_command_against_the_test_redis(stream: redis.Redis, settings: Settings) -> None:
    result = CliRunner().invoke(demo_command, [
        "--stream-url", settings.stream_url, "--stream-key", "cli_stream", "--rate", "0",
        "--matches", "7", "--players", "5", "--seed", "3"])
    assert result.exit_code == 0, result.output
    entries = [f for _, f in read_stream(stream, "cli_stream")]
    scores = [e for e in entries if e["type"] == "score"]
    assert len({e["game_id"] for e in entries if e["product_id"] == "exrps"}) == 7
    ids = {p.id for p in player_pool(5, seed=3)}
    assert {e["user_id"] for e in entries if "user_id" in e} <= ids
    assert "5 players (seed 3)" in result.output
    assert "10% snake scores" in result.output  # the shipped products keep snake's boards
    done = re.search(r"(\d+) events .* (\d+) matches finished, (\d+) abandoned, (\d+) scores",
                     result.output)
    assert done and int(done[1]) == len(entries) and int(done[2]) + int(done[3]) == 7
    assert int(done[4]) == len(scores) == sum(e["product_id"] == "snake" for e in entries)

    result = CliRunner().invoke(demo_command, [
        "--stream-url", settings.stream_url, "--stream-key", "exrps_only", "--rate", "0",
        "--matches", "3", "--score-share", "0"])
    assert result.exit_code == 0, result.output
    assert {f["product_id"] for _, f in read_stream(stream, "exrps_only")} == {"exrps"}
