"""``tracker rebuild-board``: a board built again from the event stream equals the board the
pipeline built, with its periods, buckets, records, ratings and histories; it follows a
changed configuration; it leaves out what no worker applied yet, so a worker applying it
later counts it once; it never replaces a board a worker wrote to meanwhile. Real Redis;
the pipeline's own steps (claim, apply, finish) run in process, as a bridge and a worker
run them."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from tasks.cli import main
from tests.conftest import TEST_PRODUCTS
from tests.support.processes import settings_env
from tests.support.rebuild import (
    OLD_MS,
    PLAYERS,
    claim_all,
    dump,
    games,
    pipeline,
    rebuild,
    traffic,
    work,
    wreck,
)
from tests.support.varcade import game_over, submitted, xadd_all
from tracker.products import Products, load_products
from tracker.rebuild import BoardRebuild, Interrupted, Rebuilt
from tracker.settings import Settings
from tracker.storage import DeadLetters, Keys


@pytest.mark.parametrize(("product", "board"), [
    ("darts", "wins"), ("darts", "openskill"), ("darts", "glicko2"),
    ("tennis", "wins"), ("tennis", "elo"), ("tennis", "streak"),
    ("snake", "high_score"), ("snake", "fastest"), ("cup", "league"), ("race", "laps"),
])
def test_a_rebuilt_board_is_the_board_the_pipeline_built(
        settings: Settings, products: Products, stream: redis.Redis, data: redis.Redis,
        product: str, board: str) -> None:
    entries = traffic(random.Random(7))
    # an old week and month, closed long before: counted all-time only, by both
    stream.xgroup_create(settings.stream_key, settings.stream_group, id="0", mkstream=True)
    for i, fields in enumerate(games(product, 5, seed=3)):
        stream.xadd(settings.stream_key, fields, id=f"{OLD_MS + i}-0")  # type: ignore[arg-type]
    pipeline(stream, data, settings, products, entries)
    built = dump(data, product, board)
    assert len(built[f"lb:{board}"][0]) >= 6  # players are on it
    wreck(data, product, board)

    out = rebuild(settings, product, board)

    assert out.exit_code == 0, out.output
    assert f"rebuilt {product}/{board}" in out.output and "left out: none" in out.output
    assert dump(data, product, board) == built
    assert not list(data.scan_iter(match="st:rebuild:*")) and not data.exists(
        f"st:{{{product}}}:rebuild:{board}")  # staging and lock gone


def test_a_board_with_seasons_set_at_run_time_is_rebuilt_into_them(
        settings: Settings, stream: redis.Redis, data: redis.Redis, tmp_path: Path) -> None:
    """The rebuild stages the board under other keys, but reads the live calendar."""
    manual = tmp_path / "products.toml"
    manual.write_text(TEST_PRODUCTS.read_text().replace("pong = {}", (
        'pong = { handlers = [{ use = "wins", periods = ["season"], seasons = "manual" }] }')))
    seconds, _ = data.time()
    now = int(seconds) * 1000
    data.set("st:{pong}:seasons:wins", json.dumps([["s1", str(now - 3_600_000),
                                                    str(now + 3_600_000)]]))
    pipeline(stream, data, settings, load_products(manual), games("pong", 60))
    built = dump(data, "pong", "wins")
    assert len(built["lb:wins:s1"][0]) >= 6  # the season's board holds them
    wreck(data, "pong", "wins")

    out = rebuild(settings, "pong", "wins", products_file=manual)

    assert out.exit_code == 0, out.output
    assert dump(data, "pong", "wins") == built


def test_a_rate_limited_board_is_rebuilt_with_the_same_refusals(
        settings: Settings, stream: redis.Redis, data: redis.Redis, tmp_path: Path) -> None:
    limited = tmp_path / "products.toml"
    limited.write_text(TEST_PRODUCTS.read_text() + (
        'arcade = { handlers = [{ use = "score", board = "total", operator = "sum", periods '
        '= ["week"], rate_limit = { submissions = 3, seconds = 60 } }] }\n'))
    products = load_products(limited)
    flood = [submitted("arcade", "total", PLAYERS[i % 3], i) for i in range(40)]
    pipeline(stream, data, settings, products, flood)
    built = dump(data, "arcade", "total")
    assert built["lb:total"][0] == [(p.encode(), float(s)) for p, s in
                                    (("p0", 0 + 3 + 6), ("p1", 1 + 4 + 7), ("p2", 2 + 5 + 8))]
    wreck(data, "arcade", "total")
    assert rebuild(settings, "arcade", "total", products_file=limited).exit_code == 0
    assert dump(data, "arcade", "total") == built


def test_it_follows_a_changed_configuration(settings: Settings, products: Products,
                                            stream: redis.Redis, data: redis.Redis,
                                            tmp_path: Path) -> None:
    pipeline(stream, data, settings, products, games("exrps", 200))
    # elo's k goes from 32 to 16, and a Glicko-2 board that exrps did not have is added
    changed = tmp_path / "products.toml"
    changed.write_text(TEST_PRODUCTS.read_text().replace(
        '{ use = "elo", k = 32, start = 1500 }',
        '{ use = "elo", k = 16, start = 1500 }, { use = "glicko2" }'))
    for board in ("elo", "glicko2"):
        assert rebuild(settings, "exrps", board, products_file=changed).exit_code == 0
    rebuilt = {b: dump(data, "exrps", b) for b in ("elo", "glicko2")}

    # the same stream, applied from the start with the new configuration
    stream.delete(settings.stream_key)
    data.flushdb()
    pipeline(stream, data, settings, load_products(changed), games("exrps", 200))
    assert rebuilt == {b: dump(data, "exrps", b) for b in ("elo", "glicko2")}
    assert rebuilt["glicko2"]["lb:glicko2"][0]  # players are on it


def test_the_readme_recipe_for_a_rating_product_added_while_old_workers_ran(
        settings: Settings, products: Products, stream: redis.Redis, data: redis.Redis,
        tmp_path: Path) -> None:
    """README, "Changing the configuration": a worker still on the old file dead-letters
    a new product's games; replayed after the newer ones, they are rated out of order,
    and rebuild-board puts every game back in stream order."""
    new = tmp_path / "products.toml"
    new.write_text(TEST_PRODUCTS.read_text() + 'go = { handlers = [{ use = "elo", k = 32 }] }\n')
    entries = games("go", 120, seed=7)
    pipeline(stream, data, settings, products, entries[:60])  # the old file: go is unknown
    letters = DeadLetters(data, Keys())
    assert letters.count() == 60 and not data.exists("st:{go}:lb:elo")
    pipeline(stream, data, settings, load_products(new), entries[60:])  # the new file
    replay = CliRunner(env={**settings_env(settings), "TRACKER_PRODUCTS_FILE": str(new)}
                       ).invoke(main, ["dead-letters", "replay", "--reason", "unknown_product"])
    assert replay.exit_code == 0 and "60 applied" in replay.output, replay.output
    out_of_order = dump(data, "go", "elo")

    out = rebuild(settings, "go", "elo", products_file=new)
    assert out.exit_code == 0, out.output
    rebuilt = dump(data, "go", "elo")
    stream.delete(settings.stream_key)
    data.flushdb()
    pipeline(stream, data, settings, load_products(new), entries)  # in order, from the start
    in_order = dump(data, "go", "elo")
    assert rebuilt == in_order and out_of_order != in_order
    assert sum(s for _, s in rebuilt["lb:elo"][0]) == pytest.approx(1500 * len(PLAYERS))


def test_entries_in_flight_count_once_whether_a_worker_applied_them_or_not(
        settings: Settings, products: Products, stream: redis.Redis,
        data: redis.Redis) -> None:
    entries = games("exrps", 300)
    stream.xgroup_create(settings.stream_key, settings.stream_group, id="0", mkstream=True)
    xadd_all(stream, entries, settings.stream_key)
    parts = claim_all(stream, settings)
    work(stream, data, settings, products, parts[:-2])
    # a worker died after applying this part, before finishing it; the last waits
    work(stream, data, settings, products, parts[-2:-1], finish=False)

    out = rebuild(settings, "exrps", "elo")
    assert out.exit_code == 0, out.output
    assert f"{parts[-1][1]} entries in flight are left to the workers" in out.output
    assert f"left out: {parts[-1][1]} in flight, not applied yet" in out.output

    work(stream, data, settings, products, parts[-2:])  # the workers come back
    rebuilt = dump(data, "exrps", "elo")
    stream.delete(settings.stream_key)
    data.flushdb()
    pipeline(stream, data, settings, products, entries)
    assert rebuilt == dump(data, "exrps", "elo")  # each game rated once, in order


def test_a_dry_run_says_what_would_change_and_replaces_nothing(
        settings: Settings, products: Products, stream: redis.Redis, data: redis.Redis,
        tmp_path: Path) -> None:
    pipeline(stream, data, settings, products, games("exrps", 200))
    before = dump(data, "exrps", "elo")
    changed = tmp_path / "products.toml"
    changed.write_text(TEST_PRODUCTS.read_text().replace("k = 32, start = 1500",
                                                         "k = 16, start = 1500"))
    out = rebuild(settings, "exrps", "elo", "--dry-run", products_file=changed)
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[-4] == "12 players now, 12 after; 12 with another score, 0 new, 0 gone"
    assert lines[-3].startswith("  top now:   1. p") and lines[-2].startswith(
        "  top after: 1. p")
    assert lines[-1] == "dry run: exrps/elo not replaced"
    assert dump(data, "exrps", "elo") == before
    assert not list(data.scan_iter(match="st:rebuild:*"))
    # the same configuration: nothing would change
    same = rebuild(settings, "exrps", "elo", "--dry-run")
    assert "12 players now, 12 after; 0 with another score, 0 new, 0 gone" in same.output


def test_without_a_cheat_every_rating_is_as_if_its_games_never_were(
        settings: Settings, products: Products, stream: redis.Redis,
        data: redis.Redis) -> None:
    entries = games("exrps", 200) + [game_over("exrps", "cheat", p)
                                     for p in PLAYERS for _ in range(3)]
    random.Random(5).shuffle(entries)
    pipeline(stream, data, settings, products, entries)
    assert data.zscore("st:{exrps}:lb:elo", "cheat")

    out = rebuild(settings, "exrps", "elo", "--without", "cheat")
    assert out.exit_code == 0, out.output
    assert "36 naming a player of --without" in out.output
    rebuilt = dump(data, "exrps", "elo")
    stream.delete(settings.stream_key)
    data.flushdb()
    pipeline(stream, data, settings, products,
             [e for e in entries if "cheat" not in e.values()])
    assert rebuilt == dump(data, "exrps", "elo")
    assert sum(s for _, s in rebuilt["lb:elo"][0]) == pytest.approx(1500 * len(PLAYERS))


def test_closed_periods_and_entries_held_in_the_dead_letter_stay_as_they_are(
        settings: Settings, products: Products, stream: redis.Redis,
        data: redis.Redis) -> None:
    pipeline(stream, data, settings, products, games("darts", 100))
    closed = "st:{darts}:lb:wins:2025-W39"  # a closed week's board, still kept
    data.zadd(closed, {"p1": 4, "p2": 1})
    # a result the pipeline rejected (dead-lettered), whose letter is still held
    letters = DeadLetters(data, Keys())
    bad = {"product_id": "darts", "type": "game_over", "game_id": "g", "winner_id": "p1",
           "loser_id": "p1"}
    pipeline(stream, data, settings, products, [bad])
    assert letters.count() == 1
    before = dump(data, "darts", "wins")

    out = rebuild(settings, "darts", "wins")

    assert out.exit_code == 0 and "1 held in the dead letter" in out.output
    assert dump(data, "darts", "wins") == before
    assert data.zrange(closed, 0, -1, withscores=True) == [(b"p2", 1.0), (b"p1", 4.0)]
    assert letters.count() == 1


def test_a_worker_writing_meanwhile_stops_the_swap(
        settings: Settings, products: Products, stream: redis.Redis,
        data: redis.Redis) -> None:
    pipeline(stream, data, settings, products, games("exrps", 100))
    before = dump(data, "exrps", "elo")
    product = products["exrps"]
    job = BoardRebuild(settings, data, stream, product, product.board("elo"))  # type: ignore[arg-type]
    cut, counter = job.begin()
    done = Rebuilt()
    job.apply(cut, done, lambda _n: None)
    pipeline(stream, data, settings, products, games("exrps", 3, seed=9))  # a worker
    after_worker = dump(data, "exrps", "elo")
    assert after_worker != before
    with pytest.raises(Interrupted, match=r"the live board is unchanged\. Stop the workers "
                                          r"of queue 'exrps'"):
        job.swap(counter, done)
    job.end()
    assert dump(data, "exrps", "elo") == after_worker
    assert not list(data.scan_iter(match="st:rebuild:*"))
    assert rebuild(settings, "exrps", "elo").exit_code == 0  # the lock is free again


def test_the_command_asks_first_refuses_a_second_run_and_unknown_boards(
        settings: Settings, products: Products, stream: redis.Redis,
        data: redis.Redis) -> None:
    runner = CliRunner(env=settings_env(settings))
    nothing = runner.invoke(main, ["rebuild-board", "exrps", "elo", "--yes"])
    assert nothing.exit_code == 1 and "has read 'game_event_stream' yet" in nothing.output
    pipeline(stream, data, settings, products, games("exrps", 20))
    before = dump(data, "exrps", "elo")
    data.zadd("st:{exrps}:lb:elo", {"ghost": 1})

    declined = runner.invoke(main, ["rebuild-board", "exrps", "elo"], input="n\n")
    assert declined.exit_code == 1 and "Rebuild it, and replace the live board?" in (
        declined.output)
    assert data.zscore("st:{exrps}:lb:elo", "ghost") == 1  # unchanged
    data.set("st:{exrps}:rebuild:elo", "another")  # a rebuild running elsewhere
    busy = runner.invoke(main, ["rebuild-board", "exrps", "elo", "--yes"])
    assert busy.exit_code == 1 and "being rebuilt already" in busy.output
    data.delete("st:{exrps}:rebuild:elo")
    assert runner.invoke(main, ["rebuild-board", "exrps", "elo", "--yes"]).exit_code == 0
    assert dump(data, "exrps", "elo") == before

    # entries trimmed away: refused, unless asked for
    stream.xtrim(settings.stream_key, maxlen=15, approximate=False)
    refused = runner.invoke(main, ["rebuild-board", "exrps", "elo", "--yes"])
    assert refused.exit_code == 1 and "has lost 5 of the entries written to it" in (
        refused.output)
    trimmed = runner.invoke(main, ["rebuild-board", "exrps", "elo", "--yes", "--trimmed-ok"])
    assert trimmed.exit_code == 0 and dump(data, "exrps", "elo") != before  # 15 games left

    unknown = runner.invoke(main, ["rebuild-board", "exrps", "nope", "--yes"])
    assert unknown.exit_code == 2 and "exrps has no board 'nope'" in unknown.output
    assert runner.invoke(main, ["rebuild-board", "nope", "elo"]).exit_code == 2


def test_a_staged_key_that_expired_before_the_swap_is_gone_live_too(data: redis.Redis) -> None:
    swap = data.register_script(
        (Path(__file__).parents[2] / "tracker/storage/swap_board.lua").read_text())
    data.hset("st:{x}:counters", "applied", 5)
    data.zadd("st:rebuild:b:{x}:lb:b", {"ann": 1})
    data.zadd("st:{x}:lb:b", {"old": 1})
    data.hset("st:{x}:lb:b:rate:7", "ann", 1)  # its staged copy expired meanwhile
    data.hset("st:{x}:lb:b:meta", "old", "{}")  # no counterpart: stale
    keys = ["st:{x}:counters", "st:rebuild:b:{x}:lb:b", "st:rebuild:b:{x}:lb:b:rate:7",
            "st:{x}:lb:b", "st:{x}:lb:b:rate:7", "st:{x}:lb:b:meta"]
    assert swap(keys=keys, args=["4", 2]) == -1  # a worker applied one more meanwhile
    assert data.zrange("st:{x}:lb:b", 0, -1) == [b"old"] and data.exists("st:{x}:lb:b:meta")
    assert swap(keys=keys, args=["5", 2]) == 1
    assert data.zrange("st:{x}:lb:b", 0, -1) == [b"ann"]
    assert not data.exists("st:{x}:lb:b:rate:7", "st:{x}:lb:b:meta", "st:rebuild:b:{x}:lb:b")
