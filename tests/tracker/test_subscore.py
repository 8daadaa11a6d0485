"""Boards that rank by two columns (``subscore = "asc"`` or ``"desc"`` on a ``score``
handler): a submission beats the record when it wins on the score, or ties on it and wins
on the subscore; the record is always one real submission. Checked against a brute-force
lexicographic ranking on a real Redis, in both batch forms, under redelivery, for boards of
either order and either subscore direction, and in all three tie modes."""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.cli import main
from tests.support.handlers import EventsForm
from tests.support.processes import settings_env
from tests.support.threads import at_once
from tests.support.varcade import raw, submitted
from tracker import subscore
from tracker.closing import PeriodResults
from tracker.events import InvalidEvent, parse_entry
from tracker.handlers import ScoreLeaderboard
from tracker.order import flip
from tracker.periods import Period, PeriodKind, period_board
from tracker.processing import BatchProcessor
from tracker.products import ConfigError, Products, load_products, parse_products
from tracker.ranking import TieMode
from tracker.settings import Settings
from tracker.storage import DeadLetters, Ranks, Store

FIXTURES = [HealthCheck.function_scoped_fixture]
# an hour into this week: its board must not have expired
T0 = Period.containing(PeriodKind.WEEK, int(time.time() * 1000)).start_ms + 3_600_000
WEEK = Period.containing(PeriodKind.WEEK, T0)
# board -> (operator, board order, subscore direction)
BOARDS = {
    "laps": ("best", "desc", "asc"),  # most laps, then the least time
    "quiz": ("best", "desc", "desc"),  # most points, then the most bonus
    "golf": ("best", "asc", "asc"),  # fewest strokes, then the fewest putts
    "dash": ("latest", "asc", "desc"),  # the latest run: least time, then most style
}
RACE = {"handlers": [
    {"use": "score", "board": name, "operator": op, "order": order, "subscore": sub,
     **({"periods": ["week"], "keep_periods": 1, "results_top": 10}
        if name in ("laps", "golf") else {})}
    for name, (op, order, sub) in BOARDS.items()] + [
    {"use": "score", "board": "plain"}]}  # a board without one, beside them
PLAYERS = ["ann", "bob", "cid", "dee", "eve"]


def race() -> Products:
    return parse_products({"products": {"race": RACE}})


def better(a: tuple[int, int], b: tuple[int, int], order: str, direction: str) -> bool:
    """Whether (score, subscore) ``a`` ranks strictly above ``b``: lexicographic, each
    column in its own direction."""
    ka = (a[0] if order == "desc" else -a[0], a[1] if direction == "desc" else -a[1])
    kb = (b[0] if order == "desc" else -b[0], b[1] if direction == "desc" else -b[1])
    return ka > kb


def brute_force(subs: Sequence[tuple[str, str, int, int]], board: str
                ) -> dict[str, tuple[int, int, int]]:
    """Each player's (score, subscore, submissions) on ``board``, in event order."""
    op, order, direction = BOARDS[board]
    kept: dict[str, tuple[int, int, int]] = {}
    for b, player, score, sub in subs:
        if b != board:
            continue
        old = kept.get(player)
        n = old[2] + 1 if old else 1
        if old is None or op == "latest" or better((score, sub), old[:2], order, direction):
            kept[player] = (score, sub, n)
        else:
            kept[player] = (*old[:2], n)
    return kept


def ranks_of(kept: dict[str, tuple[int, int, int]], board: str, ties: TieMode
             ) -> dict[str, int]:
    """Each player's rank among ``kept`` in ``ties`` mode, with ties on both columns."""
    _, order, direction = BOARDS[board]
    rows = {p: v[:2] for p, v in kept.items()}
    out = {}
    for player, row in rows.items():
        above = [o for o in rows.values() if better(o, row, order, direction)]
        if ties is TieMode.COMPETITION:
            out[player] = len(above) + 1
        elif ties is TieMode.DENSE:
            out[player] = len(set(above)) + 1
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=FIXTURES)
@given(subs=st.lists(st.tuples(st.sampled_from(sorted(BOARDS)), st.sampled_from(PLAYERS),
                               st.integers(-3, 3), st.sampled_from([0, 1, 2, 2**32 - 1])),
                     min_size=1, max_size=40),
       batch=st.integers(1, 12), summed=st.booleans())
def test_boards_keep_and_rank_the_lexicographic_best_as_brute_force_says(
        data: redis.Redis, subs: list[tuple[str, str, int, int]], batch: int,
        summed: bool) -> None:
    data.flushdb()
    subs = [(b, p, abs(s) if BOARDS[b][1] == "asc" else s, sub) for b, p, s, sub in subs]
    entries = [(f"{T0 + i * 1000}-0", raw(submitted("race", b, p, s, subscore=sub,
                                                     metadata=f'{{"n": {i}}}')))
               for i, (b, p, s, sub) in enumerate(subs)]
    processor = BatchProcessor(race(), Store(data) if summed else EventsForm(data),
                               DeadLetters(data), clock=lambda: T0 / 1000)
    for i in range(0, len(entries), batch):
        report = processor.process("race", "s", entries[i:i + batch])
        assert report.applied == len(entries[i:i + batch]), report
    ranks = Ranks(data)
    product = race()["race"]
    for name in BOARDS:
        b = product.board(name)
        assert b is not None and b.subscore == BOARDS[name][2]
        kept = brute_force(subs, name)
        # the record's metadata is that of the submission that holds both columns
        holder = {p: max(i for i, (bb, pp, s, sub) in enumerate(subs)
                         if bb == name and pp == p and (s, sub) == v[:2])
                  for p, v in kept.items()} if BOARDS[name][0] == "latest" else {
                  p: min(i for i, (bb, pp, s, sub) in enumerate(subs)
                         if bb == name and pp == p and (s, sub) == v[:2])
                  for p, v in kept.items()}
        for board_name in [name] + ([period_board(name, WEEK)] if name == "laps" else []):
            found = {}
            for player in PLAYERS:
                standing = ranks.standing("race", board_name, player, ascending=b.ascending,
                                          records=board_name)
                if standing is None:
                    continue
                score, sub = subscore.split(standing.score, b.subscore, b.ascending)
                assert standing.record is not None
                found[player] = (int(score), sub, standing.record.submissions)
                assert standing.record.metadata == f'{{"n": {holder[player]}}}'
                for ties in (TieMode.COMPETITION, TieMode.DENSE):
                    assert standing.rank(ties) == ranks_of(kept, name, ties)[player], ties
            assert found == kept, board_name
        # a page lists them best first, both columns deciding
        page = ranks.page("race", name, 0, 10, ascending=b.ascending)
        shown = [subscore.split(score, b.subscore, b.ascending) for _, score in page.rows]
        assert all(not better((int(y[0]), y[1]), (int(x[0]), x[1]), BOARDS[name][1],
                              BOARDS[name][2]) for x, y in itertools.pairwise(shown))
        assert [r for r in page.ranks(TieMode.DENSE)] == [
            ranks_of(kept, name, TieMode.DENSE)[u] for u, _ in page.rows]

    # a redelivery of everything changes nothing
    before = {k: data.dump(k) for k in data.keys("st:{race}:lb:*")}
    for i in range(0, len(entries), batch):
        assert processor.process("race", "s", entries[i:i + batch]).applied == 0
    assert {k: data.dump(k) for k in data.keys("st:{race}:lb:*")} == before


@given(a=st.tuples(st.integers(-2**21 + 1, 2**21 - 1), st.integers(0, 2**32 - 1)),
       b=st.tuples(st.integers(-2**21 + 1, 2**21 - 1), st.integers(0, 2**32 - 1)),
       direction=st.sampled_from(subscore.DIRECTIONS), ascending=st.booleans())
def test_packed_numbers_order_as_both_columns_and_come_back_exactly(
        a: tuple[int, int], b: tuple[int, int], direction: str, ascending: bool) -> None:
    def stored(pair: tuple[int, int]) -> float:
        number = subscore.packed(pair[0], pair[1], direction)
        return subscore.negated(number) if ascending else number

    order = "asc" if ascending else "desc"
    assert (stored(a) > stored(b)) == better(a, b, order, direction)
    assert (stored(a) == stored(b)) == (a == b)
    for pair in (a, b):  # read back as tracker.storage.ranks gives it
        shown = flip(stored(pair)) if ascending else stored(pair)
        assert subscore.split(shown, direction, ascending) == (float(pair[0]), pair[1])


def test_the_configuration() -> None:
    handler = ScoreLeaderboard("laps", subscore="asc")
    assert handler.boards[0].subscore == "asc" and "subscore='asc'" in repr(handler)
    with pytest.raises(ValueError, match="subscore is one of"):
        ScoreLeaderboard("laps", subscore="up")
    with pytest.raises(ValueError, match="with the operators"):
        ScoreLeaderboard("laps", operator="sum", subscore="asc")
    # a handler's own tie_break cannot ask for time on it; a product's skips it
    with pytest.raises(ConfigError, match="without a subscore can break ties by time"):
        parse_products({"products": {"x": {"handlers": [
            {"use": "score", "board": "b", "subscore": "asc", "tie_break": "earliest"}]}}})
    product = parse_products({"products": {"x": {"tie_break": "earliest", "handlers": [
        {"use": "score", "board": "b", "subscore": "asc"}, {"use": "score", "board": "c"}]}}})
    assert product["x"].earliest == {"c"} and product["x"].subscored == {"b"}
    with pytest.raises(ConfigError, match="tiers by rank or percent, not by score"):
        parse_products({"products": {"x": {"handlers": [
            {"use": "score", "board": "b", "subscore": "asc",
             "tiers": [{"name": "gold", "score": 10}, {"name": "rest"}]}]}}})
    parse_products({"products": {"x": {"handlers": [
        {"use": "score", "board": "b", "subscore": "asc",
         "tiers": [{"name": "gold", "rank": 10}, {"name": "rest"}]}]}}})


@pytest.mark.parametrize(("fields", "reason", "detail"), [
    ({"subscore": "-1"}, "invalid_fields", "Not a subscore"),
    ({"subscore": "1.5"}, "invalid_fields", "Not a subscore"),
    ({"subscore": "007"}, "invalid_fields", "Not a subscore"),
    ({"subscore": str(2**32)}, "invalid_fields", "at most 4294967295"),
])
def test_a_subscore_that_is_no_whole_number_below_2_32_is_refused(
        fields: dict[str, str], reason: str, detail: str) -> None:
    event = {**submitted("race", "laps", "ann", 5), **fields}
    with pytest.raises(InvalidEvent) as caught:
        parse_entry("1-0", raw(event))
    assert caught.value.reason == reason and detail in caught.value.detail


@pytest.mark.parametrize(("event", "detail"), [
    (submitted("race", "laps", "ann", 5), "ranks by a subscore: the submission has none"),
    (submitted("race", "plain", "ann", 5, subscore=3), "has no subscore: configure it"),
    (submitted("race", "laps", "ann", 2.5, subscore=3), "integer scores of magnitude below"),
    (submitted("race", "laps", "ann", 2**21, subscore=3), "integer scores of magnitude below"),
    (submitted("race", "laps", "ann", 5, subscore=3, operator="sum"),
     "best or the latest, not 'sum'"),
])
def test_a_submission_such_a_board_cannot_hold_is_dead_lettered_with_the_reason(
        data: redis.Redis, event: dict[str, str], detail: str) -> None:
    letters = DeadLetters(data)
    processor = BatchProcessor(race(), Store(data), letters, clock=lambda: T0 / 1000)
    report = processor.process("race", "s", [
        (f"{T0}-0", raw(event)), (f"{T0}-1", raw(submitted("race", "laps", "bob", 4,
                                                            subscore=9)))])
    assert report.applied == 1 and letters.count() == 1
    (letter,) = letters.scan()
    assert letter.reason == "handler_error" and detail in letter.detail, letter.detail
    assert letter.fields == raw(event)  # the original, for a replay


def test_a_closed_period_archives_both_columns_with_ties_on_both(
        data: redis.Redis, settings: Settings) -> None:
    processor = BatchProcessor(race(), Store(data), DeadLetters(data), clock=lambda: T0 / 1000)
    rows = [("ann", 10, 500), ("bob", 10, 400), ("cid", 10, 500), ("dee", 9, 1)]
    processor.process("race", "s", [(f"{T0 + i}-0", raw(submitted("race", "laps", p, s,
                                                                    subscore=sub)))
                                    for i, (p, s, sub) in enumerate(rows)])
    board = race()["race"].board("laps")
    assert board is not None
    results = PeriodResults(data)
    assert results.close("race", board, WEEK) == 1
    (archived,) = results.archived("race", "laps", [WEEK])
    assert archived is not None and archived.size == 4
    # most laps first, then the least time; ann and cid tie on both columns (by user id)
    assert archived.top == [
        {"rank": 1, "user_id": "bob", "score": 10, "subscore": 400},
        {"rank": 2, "user_id": "cid", "score": 10, "subscore": 500},
        {"rank": 2, "user_id": "ann", "score": 10, "subscore": 500},
        {"rank": 4, "user_id": "dee", "score": 9, "subscore": 1}]
    # golf: the fewest strokes first, then the fewest putts (a board kept negated)
    processor.process("race", "s", [(f"{T0 + 10 + i}-0", raw(submitted("race", "golf", p, s,
                                                                         subscore=sub)))
                                    for i, (p, s, sub) in enumerate(rows)])
    golf = race()["race"].board("golf")
    assert golf is not None and results.close("race", golf, WEEK) == 1
    (archived,) = results.archived("race", "golf", [WEEK])
    assert archived is not None and archived.top == [
        {"rank": 1, "user_id": "dee", "score": 9, "subscore": 1},
        {"rank": 2, "user_id": "bob", "score": 10, "subscore": 400},
        {"rank": 3, "user_id": "cid", "score": 10, "subscore": 500},
        {"rank": 3, "user_id": "ann", "score": 10, "subscore": 500}]
    shown = CliRunner(env=settings_env(settings)).invoke(main, ["period-results", "race"])
    assert shown.exit_code == 0, shown.output
    assert "laps " + WEEK.id + ": 4 player(s); 1. bob (10 / 400), 2. cid (10 / 500)" \
        in shown.output


def test_concurrent_writers_keep_each_players_lexicographic_best(data: redis.Redis) -> None:
    """Four writers submit 30 pairs each for the same players at once, many equal on the
    score: each board ends with the best pair any of them submitted."""
    products = race()
    sent: list[tuple[str, int, int]] = []

    def write(writer: int) -> None:
        processor = BatchProcessor(products, Store(redis.Redis(
            connection_pool=data.connection_pool)), DeadLetters(data),
            clock=lambda: T0 / 1000)
        for n in range(0, 30, 3):
            batch = [(p, (writer + n + k) % 4, (writer * 7919 + n * 31 + k * 17 + i) % 1000)
                     for k in range(3) for i, p in enumerate(PLAYERS)]
            sent.extend(batch)
            report = processor.process("race", "s", [
                (f"{T0 + n}-{writer * 1000 + j}",
                 raw(submitted("race", "laps", p, s, subscore=sub)))
                for j, (p, s, sub) in enumerate(batch)])
            assert report.applied == len(batch), report

    at_once(write)
    ranks = Ranks(data)
    for player in PLAYERS:
        best = max(((s, -sub) for p, s, sub in sent if p == player))
        found = ranks.standing("race", "laps", player)
        assert found is not None
        assert subscore.split(found.score, "asc", False) == (best[0], -best[1])


def test_the_commands_show_both_columns_and_convert_no_ties(
        settings: Settings, data: redis.Redis, tmp_path: Path) -> None:
    config = tmp_path / "race.toml"
    config.write_text('[products]\nrace = { handlers = [{ use = "score", board = "laps", '
                      'subscore = "asc" }] }\n')
    processor = BatchProcessor(load_products(config), Store(data), DeadLetters(data))
    processor.process("race", "s", [(f"{T0 + i}-0", raw(submitted("race", "laps", p, s,
                                                                    subscore=sub)))
                                    for i, (p, s, sub) in enumerate([("ann", 10, 61_000),
                                                                     ("bob", 10, 59_500)])])
    runner = CliRunner(env=settings_env(settings, TRACKER_PRODUCTS_FILE=str(config)))
    shown = runner.invoke(main, ["board", "race", "laps"])
    assert shown.exit_code == 0, shown.output
    assert "equal scores by the lowest subscore" in shown.output
    assert [line.split()[:3] for line in shown.output.splitlines()[1:]] == [
        ["1", "bob", "10"], ["2", "ann", "10"]]
    assert "10 / 59500" in shown.output.splitlines()[1]
    before = data.dump("st:{race}:lb:laps")
    for mode in ("earliest", "member"):
        refused = runner.invoke(main, ["convert-ties", "race", "laps", "--to", mode])
        assert refused.exit_code == 2 and "ranks equal scores by its subscore" in refused.output
    assert data.dump("st:{race}:lb:laps") == before
