"""python -m tracker.reindex: rebuilds every configured board's tie structures; and
``tracker convert-ties``, which moves a board with data to another tie_break."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import redis
from click.testing import CliRunner

from tasks.cli import main
from tests.support.processes import settings_env
from tests.tracker.test_tiebreak import T0, config, feed
from tracker.periods import Period, PeriodKind, bucket_board, period_board
from tracker.products import load_products, parse_products
from tracker.reindex import reindex_all
from tracker.settings import Settings
from tracker.storage import Keys, Ranks, Store

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


def test_convert_ties_moves_a_board_with_data_to_earliest_and_back(
        settings: Settings, data: redis.Redis, tmp_path: Path) -> None:
    member_config = tmp_path / "member.toml"
    member_config.write_text('[products]\ntennis = { handlers = [{ use = "wins", '
                             'periods = ["week"], bucket_size = 2 }, "elo"] }\n')
    games = [("ann", "bob", 0), ("cid", "dee", 2), ("bob", "eve", 4), ("ann", "cid", 6)]
    store = Store(data)
    feed(load_products(member_config), store, data, games)  # written with member order
    ranks = Ranks(data)
    week = period_board("wins", Period.containing(PeriodKind.WEEK, T0))
    member_rows = list(ranks.page("tennis", "wins", 0, 10).rows)
    runner = CliRunner(env=settings_env(settings, TRACKER_PRODUCTS_FILE=str(member_config)))

    out = runner.invoke(main, ["convert-ties", "tennis", "wins", "--to", "earliest"])
    assert out.exit_code == 0, out.output
    boards = 1 + 1 + 3  # all-time, the week, its buckets of 2 of 5 players
    assert f"tennis/wins: {boards} board(s), {3 * 5} member(s) converted" in out.output
    for board in ("wins", week, bucket_board(week, 2)):
        assert data.zcard(Keys().board("tennis", board)) >= 1
    # the scores and their order stay; later achievers of a score come after them
    assert list(ranks.page("tennis", "wins", 0, 10, earliest=True).rows) == member_rows
    assert list(ranks.page("tennis", week, 0, 10, earliest=True).rows) == member_rows
    timed = parse_products(config())  # the same product, now tie_break = "earliest"
    feed(timed, store, data, [("dee", "ann", 60), ("eve", "ann", 61)], first_game=10)
    rows = list(ranks.page("tennis", "wins", 0, 10, earliest=True).rows)
    # cid and bob had 1 before: still by user id, and ahead of dee and eve, who came later
    assert rows == [("ann", 2.0), ("cid", 1.0), ("bob", 1.0), ("dee", 1.0), ("eve", 1.0)]
    assert ranks.size("tennis", "wins").distinct_scores == 2

    again = runner.invoke(main, ["convert-ties", "tennis", "wins", "--to", "earliest"])
    assert again.exit_code == 1 and "already converted" in again.output  # nothing written
    assert list(ranks.page("tennis", "wins", 0, 10, earliest=True).rows) == rows
    back = runner.invoke(main, ["convert-ties", "tennis", "wins", "--to", "member"])
    assert back.exit_code == 0, back.output
    assert list(ranks.page("tennis", "wins", 0, 10).rows) == [
        ("ann", 2.0), ("eve", 1.0), ("dee", 1.0), ("cid", 1.0), ("bob", 1.0)]
    for bad, says in ((["tennis", "elo", "--to", "earliest"], "no 'elo' board that can"),
                      (["golf", "wins", "--to", "member"], "'golf' is not configured"),
                      (["tennis", "wins", "--to", "first"], "'first' is not one of")):
        refused = runner.invoke(main, ["convert-ties", *bad])
        assert refused.exit_code == 2 and says in refused.output
