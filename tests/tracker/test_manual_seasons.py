"""Seasons set at run time (``seasons = "manual"``, ``tracker season``), as PlayFab's manual
resets: the calendar's rules in Redis, events counted by their own time through the real
batch processor, a worker that read the calendar before a change, closing, erasure and
the command. Real Redis."""

from __future__ import annotations

import itertools
import json
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from tasks.cli import main
from tests.support.processes import settings_env
from tests.support.varcade import game_over
from tracker.closing import PeriodResults
from tracker.erasure import forget_players
from tracker.manual_seasons import ManualSeasons
from tracker.periods import PeriodKind
from tracker.processing import BatchProcessor
from tracker.products import ConfigError, Products, parse_products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Keys, Store
from tracker.storage.seasons import MAX_SEASON_MS, CalendarError, Season, SeasonCalendar

LEAD = 2_000  # the tests' lead: short, so that a change is due within the test
CONFIG = {"products": {"pong": {"handlers": [
    {"use": "wins", "periods": ["week", "season"], "seasons": "manual", "grace_seconds": 1},
    "player_stats"]}}}
KEY = "st:{pong}:seasons:wins"


def now_ms(data: redis.Redis) -> int:
    seconds, micros = data.time()
    return int(seconds) * 1000 + int(micros) // 1000


@pytest.fixture
def pong() -> Products:
    return parse_products(CONFIG)


@pytest.fixture
def calendar(data: redis.Redis) -> SeasonCalendar:
    return SeasonCalendar(data, lead_ms=LEAD)


def feed(processor: BatchProcessor, games: list[tuple[int, str, str]]) -> None:
    """Games of pong, (instant, winner, loser), as entries of those instants."""
    processor.process("pong", "s", [
        (f"{at}-{i}", {k.encode(): v.encode() for k, v in game_over("pong", w, lo).items()})
        for i, (at, w, lo) in enumerate(games)])


def top(data: redis.Redis, board: str) -> dict[str, float]:
    return dict(Store(data).top("pong", board, 100))


def test_the_configuration_says_manual_and_the_policy_starts_without_seasons(
        pong: Products) -> None:
    board = pong["pong"].board("wins")
    assert board is not None and board.periods is not None
    assert board.periods.manual and board.periods.seasons == ()
    assert pong["pong"].manual_boards == ("wins",)
    assert board.periods.period_at(PeriodKind.SEASON, 1_800_000_000_000) is None
    with pytest.raises(ConfigError, match='seasons = "manual" goes with "season" in periods'):
        parse_products({"products": {"p": {"handlers": [
            {"use": "wins", "periods": ["week"], "seasons": "manual"}]}}})
    with pytest.raises(ConfigError, match='or "manual"'):
        parse_products({"products": {"p": {"handlers": [
            {"use": "wins", "periods": ["season"], "seasons": "weekly"}]}}})


def test_a_change_takes_effect_a_lead_after_it_is_made(data: redis.Redis,
                                                       calendar: SeasonCalendar) -> None:
    now = now_ms(data)
    with pytest.raises(CalendarError, match="at least 2 s after it is made"):
        calendar.start("pong", "wins", "s1", now + LEAD - 500, now + 100_000)
    s1 = calendar.start("pong", "wins", "s1", now + LEAD + 500, now + 100_000)
    assert s1 == (Season("s1", now + LEAD + 500, now + 100_000),)
    # the next season ends the one running (or due) when it begins
    both = calendar.start("pong", "wins", "s2", now + 50_000, now + 200_000)
    assert both == (Season("s1", now + LEAD + 500, now + 50_000),
                    Season("s2", now + 50_000, now + 200_000))
    with pytest.raises(CalendarError, match="already has a season 's2'"):
        calendar.start("pong", "wins", "s2", now + 300_000, now + 400_000)
    with pytest.raises(CalendarError, match="after the start of season 's2'"):
        calendar.start("pong", "wins", "s3", now + 40_000, now + 400_000)
    with pytest.raises(CalendarError, match="would end before it starts"):
        calendar.start("pong", "wins", "s3", now + 300_000, now + 300_000)
    with pytest.raises(CalendarError, match="lasts at most 3,660 days"):
        calendar.start("pong", "wins", "s3", now + 300_000, now + 300_001 + MAX_SEASON_MS)
    with pytest.raises(CalendarError, match="lasts at most 3,660 days"):
        calendar.end("pong", "wins", now + 50_001 + MAX_SEASON_MS)
    # the last season's end moves earlier or later
    assert calendar.end("pong", "wins", now + 150_000)[-1].end_ms == now + 150_000
    assert calendar.end("pong", "wins", now + 250_000)[-1].end_ms == now + 250_000
    with pytest.raises(CalendarError, match="after the start of season 's2'"):
        calendar.end("pong", "wins", now + 50_000)
    assert calendar.read("pong", ("wins", "other"))[1] == {
        "wins": (Season("s1", now + LEAD + 500, now + 50_000),
                 Season("s2", now + 50_000, now + 250_000)), "other": ()}
    with pytest.raises(CalendarError, match="no season to end"):
        calendar.end("pong", "other", now + 60_000)


def test_a_season_that_ended_cannot_be_extended_but_another_can_start(
        data: redis.Redis, calendar: SeasonCalendar) -> None:
    now = now_ms(data)
    data.set(KEY, json.dumps([["s1", str(now - 60_000), str(now + 1_000)]]))  # ends in 1 s
    with pytest.raises(CalendarError, match="too soon to move its end: start another"):
        calendar.end("pong", "wins", now + 100_000)
    assert calendar.start("pong", "wins", "s2", now + 10_000, now + 100_000)[-1].id == "s2"


def test_events_count_in_the_season_of_their_own_time(
        data: redis.Redis, pong: Products, calendar: SeasonCalendar) -> None:
    now = now_ms(data)
    start, end = now + 10_000, now + 20_000
    calendar.start("pong", "wins", "s1", start, end)
    processor = BatchProcessor(pong, Store(data), DeadLetters(data),
                               seasons=ManualSeasons(calendar))
    feed(processor, [(start - 1, "ann", "bob"),  # before it: all-time (and its week) only
                     (start, "bob", "ann"), (end - 1, "cid", "ann"),
                     (end, "ann", "cid")])  # over
    assert top(data, "wins:s1") == {"bob": 1, "cid": 1, "ann": 0}
    assert top(data, "wins") == {"ann": 2, "bob": 1, "cid": 1}
    # the season's board expires as a season past its calendar's end: keep x its length
    assert data.pexpiretime(Keys().board("pong", "wins:s1")) == end + 8 * (end - start)


def test_a_worker_that_read_the_calendar_before_a_change_reads_it_again_in_time(
        data: redis.Redis, pong: Products, calendar: SeasonCalendar) -> None:
    """The worker read the calendar (no season), the season is set a lead ahead; its next
    batch holds events of the season: it reads the calendar again first."""
    seasons = ManualSeasons(calendar, refresh_s=3600)  # only the lead makes it read again
    processor = BatchProcessor(pong, Store(data), DeadLetters(data), seasons=seasons)
    read_at = now_ms(data)
    feed(processor, [(read_at - 5, "ann", "bob")])
    start = calendar.start("pong", "wins", "s1", now_ms(data) + LEAD + 1,
                           read_at + 60_000)[0].start_ms
    feed(processor, [(start - 1, "bob", "ann"), (start, "cid", "ann")])
    assert top(data, "wins:s1") == {"cid": 1, "ann": 0}
    # events less than a lead after the last read reuse it: nothing can have moved them
    reads: list[int] = []
    original = calendar.read
    calendar.read = lambda *a: reads.append(1) or original(*a)  # type: ignore[method-assign]
    feed(processor, [(now_ms(data) - 1_000, "ann", "bob")])
    assert reads == [] and top(data, "wins")["ann"] == 2
    feed(processor, [(start + 5, "ann", "bob")])  # past the lead: read again
    assert reads == [1] and top(data, "wins:s1")["ann"] == 1


@pytest.fixture
def ended(data: redis.Redis, settings: Settings) -> Iterator[tuple[int, int]]:
    """Season s1, from two hours ago to an hour ago, played: written as the command would
    have (its start and end were a lead ahead when set)."""
    now = now_ms(data)
    start, end = now - 7_200_000, now - 3_600_000
    data.set(KEY, json.dumps([["s1", str(start), str(end)]]))
    yield start, end


def test_an_ended_season_closes_and_publishes_its_results(
        data: redis.Redis, pong: Products, ended: tuple[int, int]) -> None:
    start, _ = ended
    processor = BatchProcessor(pong, Store(data), DeadLetters(data),
                               clock=lambda: (start + 60_000) / 1000)
    feed(processor, [(start + 1_000, "ann", "bob"), (start + 2_000, "ann", "cid")])
    assert top(data, "wins:s1") == {"ann": 2, "bob": 0, "cid": 0}
    results = PeriodResults(data)
    assert results.close_due(pong["pong"], now_ms(data)) == 1
    [published] = results.latest("pong", 5)
    assert (published.board, published.period) == ("wins", "s1")
    assert {row["user_id"]: row["rank"] for row in published.top} == {"ann": 1, "bob": 2,
                                                                        "cid": 2}
    assert results.close_due(pong["pong"], now_ms(data)) == 0  # once


def test_erasure_finds_the_player_on_a_season_set_at_run_time(
        data: redis.Redis, pong: Products, ended: tuple[int, int]) -> None:
    start, _ = ended
    processor = BatchProcessor(pong, Store(data), DeadLetters(data),
                               clock=lambda: (start + 60_000) / 1000)
    feed(processor, [(start + 1_000, "ann", "bob")])
    forget_players(Store(data), pong["pong"], ["ann"], now_ms(data))
    assert "ann" not in top(data, "wins:s1") and "ann" not in top(data, "wins")


def test_the_command_starts_ends_and_lists_seasons(settings: Settings, data: redis.Redis,
                                                   tmp_path: Path) -> None:
    config = tmp_path / "products.toml"
    config.write_text('[products]\npong = { handlers = [{ use = "wins", periods = ["season"], '
                      'seasons = "manual" }, "player_stats"] }\nchess = { handlers = ["elo"] }\n')
    runner = CliRunner(env={**settings_env(settings), "TRACKER_PRODUCTS_FILE": str(config)})

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(main, ["season", *args])
        return result.exit_code, result.output

    assert run("list", "pong", "wins") == (0, "no seasons yet\n")
    code, out = run("start", "pong", "wins", "s1", "--days", "7")
    assert code == 0, out
    [season] = SeasonCalendar(data).read("pong", ("wins",))[1]["wins"]
    ahead = season.start_ms - now_ms(data)
    assert 59_000 < ahead <= 61_000 and season.end_ms - season.start_ms == 7 * 86_400_000
    assert "pong/wins: season s1 starts at " in out and out.rstrip().endswith("due")

    code, out = run("start", "pong", "wins", "s2", "--at", "2020-01-01T00:00",
                    "--until", "2099-01-01T00:00")
    assert code == 1 and "season 's2' not started: a change takes effect at least 60 s" in out
    code, out = run("start", "pong", "wins", "bad id", "--days", "1")
    assert code == 1 and "a season id is a letter" in out
    code, out = run("start", "pong", "wins", "s2", "--at", "2099-01-01T00:00+02:00",
                    "--until", "2099-02-01")
    assert code == 0 and "season s2 starts at 2098-12-31 22:00:00 UTC" in out
    assert "s1" in out and "s2           2098-12-31 22:00:00 UTC to 2099-02-01 00:00:00 UTC  due" \
        in out
    code, out = run("end", "pong", "wins", "--at", "2099-03-01T00:00Z")
    assert code == 0 and "season s2 ends at 2099-03-01 00:00:00 UTC" in out
    code, out = run("start", "pong", "wins", "s3", "--days", "1", "--until", "2099-05-01")
    assert code == 2 and "give --until WHEN or --days N, not both" in out
    code, out = run("start", "pong", "wins", "s3", "--at", "2099-02-15T00:00Z")  # a reset
    assert code == 0, out
    s2, s3 = SeasonCalendar(data).read("pong", ("wins",))[1]["wins"][1:]
    assert s2.end_ms == s3.start_ms  # s2 ends as s3 begins, which runs until ended
    assert s3.end_ms - s3.start_ms == MAX_SEASON_MS
    code, out = run("start", "chess", "elo", "s1", "--days", "1")
    assert code == 2 and "chess/elo has no seasons set at run time" in out
    code, out = run("list", "pong", "nope")
    assert code == 2 and "pong has no board 'nope'" in out


def test_readers_get_the_calendar_at_most_refresh_s_old(
        data: redis.Redis, pong: Products, calendar: SeasonCalendar) -> None:
    clock = [0.0]
    seasons = ManualSeasons(calendar, refresh_s=5, clock=lambda: clock[0])
    first = seasons.current(pong["pong"])
    assert first.board("wins").periods.seasons == ()  # type: ignore[union-attr]
    now = now_ms(data)
    calendar.start("pong", "wins", "s1", now + LEAD + 100, now + 100_000)
    clock[0] = 4.9
    assert seasons.current(pong["pong"]) is first  # not read again yet
    clock[0] = 5.0
    second = seasons.current(pong["pong"])
    assert [s.id for s in second.board("wins").periods.seasons] == ["s1"]  # type: ignore[union-attr]
    clock[0] = 10.0
    assert seasons.current(pong["pong"]) is second  # read again, unchanged: the same object
    assert seasons.current(parse_products({"products": {"p": {}}})["p"]).manual_boards == ()


def test_any_sequence_of_changes_keeps_the_calendar_ordered_and_moves_nothing_behind_the_lead(
        data: redis.Redis, calendar: SeasonCalendar) -> None:
    """Random starts and ends, some of them refused, against a model of the rules; after
    each, the calendar is in order without overlaps, and every instant whose season
    changed lies a lead or more after the change was made."""
    rng = random.Random(11)
    base = now_ms(data) + 10 * LEAD
    model: list[list[object]] = []  # [id, start, end], as the rules say
    for step in range(300):
        now, before = calendar.read("pong", ("wins",))
        before_seasons = before["wins"]
        if rng.random() < 0.1:  # a start within the lead (clear of its edge), on an empty
            soon = now + rng.randrange(0, LEAD - 500)  # board: refused for that alone
            with pytest.raises(CalendarError, match="at least 2 s after it is made"):
                calendar.start("pong", "empty", "x", soon, soon + 60_000)
        at = base + rng.randrange(0, 400) * 1_000
        if rng.random() < 0.6:
            label, until = f"s{rng.randrange(40)}", at + rng.randrange(-5, 200) * 1_000
            ok = (until > at and all(m[0] != label for m in model)
                  and (not model or at > model[-1][1]))  # type: ignore[operator]
            try:
                calendar.start("pong", "wins", label, at, until)
                assert ok, (step, label, at, until, model)
                if model and at < model[-1][2]:  # type: ignore[operator]
                    model[-1][2] = at
                model.append([label, at, until])
            except CalendarError:
                assert not ok, (step, label, at, until, model)
        else:
            ok = bool(model) and at > model[-1][1]  # type: ignore[operator]
            try:
                calendar.end("pong", "wins", at)
                assert ok, (step, at, model)
                model[-1][2] = at
            except CalendarError:
                assert not ok, (step, at, model)
        after = calendar.read("pong", ("wins",))[1]["wins"]
        assert [[s.id, s.start_ms, s.end_ms] for s in after] == model
        assert all(a.end_ms <= b.start_ms and a.start_ms < a.end_ms
                   for a, b in itertools.pairwise(after))
        assert len({s.id for s in after}) == len(after)
        changed = [ms for ms in range(now, base + 800_000, 250)
                   if _season_at(before_seasons, ms) != _season_at(after, ms)]
        assert not changed or min(changed) >= now + LEAD


def _season_at(seasons: tuple[Season, ...], ms: int) -> str | None:
    return next((s.id for s in seasons if s.start_ms <= ms < s.end_ms), None)


def test_operators_starting_seasons_at_once_each_get_a_consistent_calendar(
        data: redis.Redis) -> None:
    base = now_ms(data) + 10 * LEAD
    errors: list[str] = []

    def operator(k: int) -> None:
        mine = SeasonCalendar(redis.Redis(connection_pool=data.connection_pool), lead_ms=LEAD)
        for i in range(25):
            try:
                mine.start("pong", "wins", f"o{k}-{i}", base + (i * 4 + k) * 1_000,
                           base + 10**7)
            except CalendarError as exc:
                errors.append(str(exc))

    threads = [threading.Thread(target=operator, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seasons = SeasonCalendar(data).read("pong", ("wins",))[1]["wins"]
    assert len(seasons) + len(errors) == 100 and seasons
    assert all(a.end_ms == b.start_ms for a, b in itertools.pairwise(seasons))
    assert all(e.startswith("it must be after the start of season") for e in errors)
