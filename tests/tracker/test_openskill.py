"""The openskill handler: the batch script rates games as the openskill package does.

The package (pinned in the dev extras) is the oracle: the same games, rated one
by one with ``PlackettLuce.rate``, must give exactly the same mu and sigma (the
same doubles), and the board each player's ordinal, whichever form the batch
script takes.
"""

from __future__ import annotations

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openskill.models import PlackettLuce

from tests.support.ratings import PLAYERS, game, rate_games
from tracker.handlers import BUILTIN, OpenSkillLeaderboard, OpenSkillResult
from tracker.storage import Keys, Ranks, Store

FIXTURES = [HealthCheck.function_scoped_fixture]  # the DB is flushed in each example


def oracle(games: list[tuple[str, str]], handler: OpenSkillLeaderboard
           ) -> dict[str, tuple[float, float]]:
    model = PlackettLuce(mu=handler.mu, sigma=handler.sigma, beta=handler.beta,
                         kappa=handler.kappa, tau=handler.tau)
    ratings = {}
    for w, lo in games:
        rw = ratings.get(w) or model.rating(name=w)
        rl = ratings.get(lo) or model.rating(name=lo)
        (ratings[w],), (ratings[lo],) = model.rate([[rw], [rl]])
    return {p: (r.mu, r.sigma) for p, r in ratings.items()}


def stored(data: redis.Redis, players: set[str]) -> dict[str, tuple[float, float]]:
    keys = Keys()
    out = {}
    for p in players:
        mu, sigma = data.hmget(keys.rating("pong", "openskill", p), "mu", "sigma")
        out[p] = (float(mu), float(sigma))
    return out


games_strategy = st.lists(st.tuples(st.sampled_from(PLAYERS), st.sampled_from(PLAYERS))
                          .filter(lambda g: g[0] != g[1]), min_size=1, max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURES)
@given(games=games_strategy, batch=st.integers(1, 8), summed=st.booleans(),
       params=st.sampled_from([{}, {"mu": 1000, "sigma": 300, "beta": 150, "tau": 3},
                               {"tau": 0.0, "kappa": 0.01}]))
def test_batches_rate_as_the_openskill_package(data: redis.Redis, games: list[tuple[str, str]],
                                               batch: int, summed: bool,
                                               params: dict[str, float]) -> None:
    data.flushdb()
    handler = OpenSkillLeaderboard(**params)
    store = Store(data)
    rate_games(store, handler, games, batch, summed)
    expected = oracle(games, handler)
    got = stored(data, set(expected))
    for p, (mu, sigma) in expected.items():
        assert got[p] == (mu, sigma), p  # the same doubles
    board = dict(Ranks(data).page("pong", "openskill", 0, 100).rows)
    assert board == {p: mu - 3 * sigma for p, (mu, sigma) in expected.items()}
    rate_games(store, handler, games, batch, summed)  # a replay changes nothing
    assert stored(data, set(expected)) == got


def test_the_handler() -> None:
    assert BUILTIN["openskill"] is OpenSkillLeaderboard
    handler = OpenSkillLeaderboard()
    (board,) = handler.boards
    assert (board.name, board.kind, board.start) == ("openskill", "skill", 0.0)
    assert list(handler.ops(game("1-0", "a", "b"))) == [
        OpenSkillResult("openskill", "a", "b", 25.0, 25 / 3, 25 / 6, 0.0001, 25 / 300)]
    for bad in ({"sigma": 0}, {"beta": -1}, {"kappa": 0}, {"tau": -0.1},
                {"mu": float("nan")}, {"sigma": float("inf")}):
        with pytest.raises(ValueError):
            OpenSkillLeaderboard(**bad)
