"""Handlers: events in, storage ops out (reference §3.1, §6); Elo checked against the store."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, getcontext

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.varcade import EXAMPLE, P1, P2, G, game_over
from tracker.events import Event, parse_entry
from tracker.handlers import (
    BUILTIN,
    Board,
    EloLeaderboard,
    EloResult,
    EnsureOnBoard,
    ExrpsStats,
    Glicko2Leaderboard,
    Handler,
    IncrScore,
    IncrStat,
    OpenSkillLeaderboard,
    PlayerStats,
    ScoreLeaderboard,
    TrackingLogs,
    WinsLeaderboard,
    WinStreakLeaderboard,
)
from tracker.handlers.leaderboards import RATING_QUANTUM, elo_delta
from tracker.storage import Keys, PreparedEvent, Store

GAME_OVER = next(r for r in EXAMPLE if r["type"] == "game_over")
NOT_GAME_OVER = [r for r in EXAMPLE if r["type"] != "game_over"]


def event(fields: dict[str, str], entry_id: str = "1700000000000-0") -> Event:
    return parse_entry(entry_id, {k.encode(): v.encode() for k, v in fields.items()})


def weapon(value: str) -> Event:
    return event({"product_id": "exrps", "game_id": G, "type": "gameplay",
                  "event_name": "select_weapon", "event_data": value, "user_id": P2})


def test_builtin_names() -> None:
    assert {"wins": WinsLeaderboard, "elo": EloLeaderboard, "openskill": OpenSkillLeaderboard,
            "glicko2": Glicko2Leaderboard, "streak": WinStreakLeaderboard,
            "score": ScoreLeaderboard, "player_stats": PlayerStats,
            "exrps_stats": ExrpsStats, "edx_logs": TrackingLogs} == BUILTIN
    assert all(issubclass(cls, Handler) for cls in BUILTIN.values())


def test_base_handler_has_no_boards_and_must_define_ops() -> None:
    class Quiet(Handler):
        def ops(self, event: Event) -> tuple[()]:
            return ()

    assert Quiet().boards == ()
    with pytest.raises(TypeError, match="abstract"):
        Handler()  # type: ignore[abstract]
    assert repr(WinsLeaderboard()) == "WinsLeaderboard()"


# --- WinsLeaderboard ----------------------------------------------------------------


def test_wins_default_gives_one_point_and_puts_the_loser_at_zero() -> None:
    handler = WinsLeaderboard()
    assert list(handler.ops(event(GAME_OVER))) == [IncrScore("wins", P1, 1.0),
                                                   EnsureOnBoard("wins", P2, 0.0)]
    assert handler.boards == (Board("wins", "points", 0.0),)


def test_wins_without_the_loser_on_the_board() -> None:
    handler = WinsLeaderboard(loser_on_board=False)
    assert list(handler.ops(event(GAME_OVER))) == [IncrScore("wins", P1, 1.0)]


def test_wins_custom_points_and_board() -> None:
    handler = WinsLeaderboard(board="weekly", points=3)
    ops = list(handler.ops(event(game_over("exrps", P2, P1))))
    assert ops == [IncrScore("weekly", P2, 3.0), EnsureOnBoard("weekly", P1, 0.0)]
    assert isinstance(ops[0].delta, float)  # type: ignore[union-attr]
    assert handler.boards == (Board("weekly", "points"),)


@pytest.mark.parametrize("row", NOT_GAME_OVER, ids=lambda r: r.get("event_name", r["type"]))
def test_wins_ignores_everything_but_game_over(row: dict[str, str]) -> None:
    assert list(WinsLeaderboard().ops(event(row))) == []


def test_wins_on_the_store_matches_the_original(store: Store) -> None:
    handler = WinsLeaderboard()
    games = [game_over("exrps", P1, P2), game_over("exrps", P1, P2), game_over("exrps", P2, P1)]
    store.apply("exrps", "s", [
        PreparedEvent(f"1700000000000-{i}", row["game_id"], list(handler.ops(event(row))))
        for i, row in enumerate(games)])
    assert store.top("exrps", "wins") == [(P1, 2.0), (P2, 1.0)]
    store.apply("exrps", "s", [PreparedEvent(
        "1700000000001-0", "", list(handler.ops(event(game_over("exrps", P1, "newbie")))))])
    assert store.score("exrps", "wins", "newbie") == 0.0
    assert store.score("exrps", "wins", P1) == 3.0


# --- PlayerStats --------------------------------------------------------------------


def test_player_stats_per_game_over_with_zero_increments() -> None:
    assert list(PlayerStats().ops(event(GAME_OVER))) == [
        IncrStat(P1, "games", 1), IncrStat(P1, "wins", 1), IncrStat(P1, "losses", 0),
        IncrStat(P2, "games", 1), IncrStat(P2, "losses", 1), IncrStat(P2, "wins", 0),
    ]
    assert PlayerStats().boards == ()


@pytest.mark.parametrize("row", NOT_GAME_OVER, ids=lambda r: r.get("event_name", r["type"]))
def test_player_stats_ignores_everything_but_game_over(row: dict[str, str]) -> None:
    assert list(PlayerStats().ops(event(row))) == []


def test_zero_increments_make_the_fields_exist(store: Store) -> None:
    store.apply("exrps", "s", [PreparedEvent("1-0", G, list(PlayerStats().ops(event(GAME_OVER))))])
    assert store.player_stats("exrps", P1) == {"games": 1, "wins": 1, "losses": 0}
    assert store.player_stats("exrps", P2) == {"games": 1, "wins": 0, "losses": 1}


# --- ExrpsStats ----------------------------------------------------------------------


@pytest.mark.parametrize(("value", "stat"), [
    ("0", "rock_selection_count"),
    ("1", "paper_selection_count"),
    ("2", "scissors_selection_count"),
    ("null", "botch_selection_count"),
])
def test_exrps_weapon_selection(value: str, stat: str) -> None:
    assert list(ExrpsStats().ops(weapon(value))) == [IncrStat(P2, stat, 1)]


@pytest.mark.parametrize("value", ["7", "1.5", "undefined", "true", " 1", "01", "", "3", "-1",
                                   "0 ", "Null", "NULL", "rock", "None"])
def test_exrps_non_standard_index_counts_as_invalid_selection(value: str) -> None:
    # documented policy (ExrpsStats docstring, reference §3.1): counted, not dropped
    assert list(ExrpsStats().ops(weapon(value))) == [IncrStat(P2, "invalid_selection_count", 1)]


def test_exrps_bare_fixture_select_weapon() -> None:
    bare = event({"event_name": "select_weapon", "event_data": "1", "user_id": P1,
                  "product_id": "exrps"})
    assert list(ExrpsStats().ops(bare)) == [IncrStat(P1, "paper_selection_count", 1)]


def test_exrps_game_over_falls_through_to_generic_stats() -> None:
    assert list(ExrpsStats().ops(event(GAME_OVER))) == list(PlayerStats().ops(event(GAME_OVER)))


OTHER_EVENTS = [r for r in NOT_GAME_OVER if r.get("event_name") != "select_weapon"]


@pytest.mark.parametrize("row", OTHER_EVENTS, ids=lambda r: r.get("event_name", r["type"]))
def test_exrps_other_events_change_nothing(row: dict[str, str]) -> None:
    assert list(ExrpsStats().ops(event(row))) == []


def test_exrps_stray_event_name_on_game_over_is_still_a_game_over() -> None:
    row = {**GAME_OVER, "event_name": "select_weapon", "event_data": "0", "user_id": P1}
    assert list(ExrpsStats().ops(event(row))) == list(PlayerStats().ops(event(GAME_OVER)))


def test_select_weapon_7_is_visible_in_the_players_stats(store: Store) -> None:
    handler = ExrpsStats()
    values = ["7", "0", "null", "7", "1.5"]
    store.apply("exrps", "s", [PreparedEvent(f"1700000000000-{i}", "",
                                             list(handler.ops(weapon(v))))
                               for i, v in enumerate(values)])
    assert store.player_stats("exrps", P2) == {"invalid_selection_count": 3,
                                               "rock_selection_count": 1,
                                               "botch_selection_count": 1}


# --- EloLeaderboard -------------------------------------------------------------------


def test_elo_ops_and_board() -> None:
    handler = EloLeaderboard(board="rating", k=24, start=1200)
    assert list(handler.ops(event(GAME_OVER))) == [EloResult("rating", P1, P2, 24.0, 1200.0)]
    assert handler.boards == (Board("rating", "rating", 1200.0),)
    defaults = EloLeaderboard()
    assert list(defaults.ops(event(GAME_OVER))) == [EloResult("elo", P1, P2, 32.0, 1500.0)]


@pytest.mark.parametrize("row", NOT_GAME_OVER, ids=lambda r: r.get("event_name", r["type"]))
def test_elo_ignores_everything_but_game_over(row: dict[str, str]) -> None:
    assert list(EloLeaderboard().ops(event(row))) == []


@pytest.mark.parametrize("k", [0, -1, -0.5, math.inf, math.nan])
def test_elo_k_must_be_positive_and_finite(k: float) -> None:
    with pytest.raises(ValueError, match="K"):
        EloLeaderboard(k=k)


@pytest.mark.parametrize("start", [math.inf, -math.inf, math.nan])
def test_elo_start_must_be_finite(start: float) -> None:
    with pytest.raises(ValueError, match="start"):
        EloLeaderboard(start=start)


@pytest.mark.parametrize("points", [math.inf, math.nan])
def test_wins_points_must_be_finite(points: float) -> None:
    with pytest.raises(ValueError, match="points"):
        WinsLeaderboard(points=points)


def test_elo_start_is_put_on_the_rating_grid() -> None:
    start = EloLeaderboard(start=1234.567).start
    assert start / RATING_QUANTUM == int(start / RATING_QUANTUM)
    assert abs(start - 1234.567) <= RATING_QUANTUM / 2
    assert EloLeaderboard(start=1500).start == 1500.0


def hand_elo(rw: int, rl: int, k: int) -> Decimal:
    """E = 1/(1+10^((Rl-Rw)/400)), d = K(1-E), rounded half up onto the 1/65536 grid."""
    getcontext().prec = 50
    expected = Decimal(1) / (1 + Decimal(10) ** ((Decimal(rl) - Decimal(rw)) / 400))
    steps = (Decimal(k) * (1 - expected) * 65536).to_integral_value(rounding=ROUND_HALF_UP)
    return steps / 65536


@pytest.mark.parametrize(("rw", "rl", "k", "steps"), [
    (1500, 1500, 32, 16 * 65536),    # equal ratings: half of K
    (1200, 1200, 20, 10 * 65536),
    (1516, 1500, 32, 1000321),       # 15.26368713...
    (1600, 1400, 32, 503847),        # favourite wins: 7.68809509...
    (1400, 1600, 32, 1593305),       # underdog wins: 24.31190490...
    (2000, 1000, 24, 4958),          # 0.07565307...
    (1000, 2000, 24, 1567906),       # 23.92434692...
])
def test_elo_delta_matches_a_hand_computed_elo(rw: int, rl: int, k: int, steps: int) -> None:
    assert hand_elo(rw, rl, k) == Decimal(steps) / 65536
    assert elo_delta(rw, rl, k) == steps * RATING_QUANTUM


@given(rw=st.integers(0, 4000), rl=st.integers(0, 4000), k=st.integers(1, 64))
def test_elo_delta_is_the_rounded_hand_formula(rw: int, rl: int, k: int) -> None:
    d = elo_delta(rw, rl, k)
    assert d / RATING_QUANTUM == int(d / RATING_QUANTUM)  # on the grid
    assert 0 <= d <= k
    # within float error of the exact value, at most half a grid step off it
    assert abs(Decimal(d) - hand_elo(rw, rl, k)) <= Decimal(RATING_QUANTUM) / 1000
    # the two outcomes of one pairing share K between them
    assert abs(d + elo_delta(rl, rw, k) - k) <= RATING_QUANTUM


def test_elo_first_game_on_the_store(store: Store) -> None:
    handler = EloLeaderboard(k=32, start=1500)
    store.apply("exrps", "s", [PreparedEvent("1-0", G, list(handler.ops(event(GAME_OVER))))])
    assert store.top("exrps", "elo") == [(P1, 1516.0), (P2, 1484.0)]


# --- property: the Lua Elo is zero-sum and equals a pure-Python replay ---------------------

PLAYERS = [f"p{i}" for i in range(6)]
games_strategy = st.lists(
    st.tuples(st.sampled_from(PLAYERS), st.sampled_from(PLAYERS)).filter(lambda g: g[0] != g[1]),
    min_size=1, max_size=60)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(games=games_strategy,
       cuts=st.lists(st.integers(1, 15), min_size=1, max_size=20),
       k=st.sampled_from([1, 10, 20, 24, 32, 40.5, 400]),
       start=st.sampled_from([0, 1000, 1200, 1500, 1234.567, 2800.1]))
def test_elo_through_the_store_is_zero_sum_and_matches_python(
        data: redis.Redis, games: list[tuple[str, str]], cuts: list[int], k: float,
        start: float) -> None:
    data.flushdb()
    store = Store(data, Keys("st"))
    handler = EloLeaderboard(k=k, start=start)
    prepared = [
        PreparedEvent(f"{1700000000000 + i}-0", f"{i:032x}",
                      list(handler.ops(event(game_over("chess", w, lo, game_id=f"{i:032x}")))))
        for i, (w, lo) in enumerate(games)
    ]
    # apply in batches of random sizes, as workers would
    pos, i = 0, 0
    while pos < len(prepared):
        size = cuts[i % len(cuts)]
        result = store.apply("chess", "s", prepared[pos:pos + size])
        assert result.applied == len(prepared[pos:pos + size])
        pos, i = pos + size, i + 1

    ratings: dict[str, float] = {}
    for w, lo in games:
        rw, rl = ratings.get(w, handler.start), ratings.get(lo, handler.start)
        d = elo_delta(rw, rl, handler.k)
        ratings[w], ratings[lo] = rw + d, rl - d

    board = dict(store.top("chess", "elo", count=100))
    assert board == ratings  # exactly, not approximately
    assert sum(board.values()) == len(board) * handler.start
    # a redelivery of everything changes nothing
    again = store.apply("chess", "s", prepared)
    assert again.applied == 0 and again.duplicates == len(prepared)
    assert dict(store.top("chess", "elo", count=100)) == board
