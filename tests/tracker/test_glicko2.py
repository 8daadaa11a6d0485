"""The glicko2 handler: the batch script rates games as Glickman's Glicko-2 defines them.

The oracle is written here from Glickman's "Example of the Glicko-2 system"
(steps 1 to 8, the Illinois iteration of step 5), and checked against the
paper's worked example first. The batch script must then give the same ratings,
to the last bit, for any games, each game its own rating period, in either batch
form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import create_app
from api.config import ApiSettings
from tests.support.ratings import PLAYERS, game, rate_games
from tracker.handlers import BUILTIN, Glicko2Leaderboard, Glicko2Result
from tracker.settings import Settings
from tracker.storage import Keys, PreparedEvent, Ranks, Store

SCALE = 173.7178
FIXTURES = [HealthCheck.function_scoped_fixture]  # the DB is flushed in each example


@dataclass(frozen=True)
class Rating:
    rating: float
    rd: float
    volatility: float


def glicko2(player: Rating, games: list[tuple[Rating, float]], tau: float) -> Rating:
    """One rating period of ``player`` against ``games`` (opponent, score 1/0.5/0).
    Squares are products (x * x), as the paper's x^2: pow() may differ in the last bit."""
    mu, phi, sigma = (player.rating - 1500) / SCALE, player.rd / SCALE, player.volatility
    opp = [((o.rating - 1500) / SCALE, o.rd / SCALE, s) for o, s in games]

    def g(p: float) -> float:
        return 1 / math.sqrt(1 + 3 * p * p / (math.pi * math.pi))

    def e(mu_j: float, phi_j: float) -> float:
        return 1 / (1 + math.exp(-g(phi_j) * (mu - mu_j)))

    v = 1 / sum(g(pj) * g(pj) * e(mj, pj) * (1 - e(mj, pj)) for mj, pj, _ in opp)
    gain = sum(g(pj) * (s - e(mj, pj)) for mj, pj, s in opp)
    delta = v * gain
    a = math.log(sigma * sigma)

    def f(x: float) -> float:
        ex = math.exp(x)
        d = phi * phi + v + ex
        return ex * (delta * delta - phi * phi - v - ex) / (2 * d * d) - (x - a) / (tau * tau)

    big_a = a
    if delta * delta > phi * phi + v:
        big_b = math.log(delta * delta - phi * phi - v)
    else:
        k = 1
        while f(a - k * tau) < 0:
            k += 1
        big_b = a - k * tau
    f_a, f_b = f(big_a), f(big_b)
    while abs(big_b - big_a) > 0.000001:
        c = big_a + (big_a - big_b) * f_a / (f_b - f_a)
        f_c = f(c)
        if f_c * f_b <= 0:
            big_a, f_a = big_b, f_b
        else:
            f_a = f_a / 2
        big_b, f_b = c, f_c
    sigma2 = math.exp(big_a / 2)
    phi_star = math.sqrt(phi * phi + sigma2 * sigma2)
    phi2 = 1 / math.sqrt(1 / (phi_star * phi_star) + 1 / v)
    return Rating(SCALE * (mu + phi2 * phi2 * gain) + 1500, SCALE * phi2, sigma2)


def test_the_oracle_gives_the_paper_s_worked_example() -> None:
    after = glicko2(Rating(1500, 200, 0.06), [(Rating(1400, 30, 0.06), 1),
                                              (Rating(1550, 100, 0.06), 0),
                                              (Rating(1700, 300, 0.06), 0)], tau=0.5)
    # the paper prints mu' = -0.2069, phi' = 0.8722, sigma' = 0.05999 (to its digits)
    assert (after.rating - 1500) / SCALE == pytest.approx(-0.2069, abs=5e-5)
    assert after.rd / SCALE == pytest.approx(0.8722, abs=5e-5)
    assert after.volatility == pytest.approx(0.05999, abs=1e-5)
    assert after.rating == pytest.approx(1464.06, abs=0.01) and round(after.rd, 2) == 151.52


def oracle(games: list[tuple[str, str]], handler: Glicko2Leaderboard) -> dict[str, Rating]:
    new = Rating(handler.rating, handler.rd, handler.volatility)
    ratings: dict[str, Rating] = {}
    for w, lo in games:
        rw, rl = ratings.get(w, new), ratings.get(lo, new)
        ratings[w] = glicko2(rw, [(rl, 1.0)], handler.tau)
        ratings[lo] = glicko2(rl, [(rw, 0.0)], handler.tau)
    return ratings


def stored(data: redis.Redis, players: set[str]) -> dict[str, Rating]:
    out = {}
    for p in players:
        values = data.hmget(Keys().rating("pong", "glicko2", p), "rating", "rd", "volatility")
        out[p] = Rating(*(float(x) for x in values))  # type: ignore[arg-type]
    return out


games_strategy = st.lists(st.tuples(st.sampled_from(PLAYERS), st.sampled_from(PLAYERS))
                          .filter(lambda g: g[0] != g[1]), min_size=1, max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURES)
@given(games=games_strategy, batch=st.integers(1, 8), summed=st.booleans(),
       params=st.sampled_from([{}, {"rating": 1200, "rd": 200, "volatility": 0.09,
                                    "tau": 0.3}, {"tau": 1.2, "rd": 30}]))
def test_batches_rate_as_glicko2_defines(data: redis.Redis, games: list[tuple[str, str]],
                                         batch: int, summed: bool,
                                         params: dict[str, float]) -> None:
    data.flushdb()
    handler = Glicko2Leaderboard(**params)
    store = Store(data)
    rate_games(store, handler, games, batch, summed)
    expected = oracle(games, handler)
    got = stored(data, set(expected))
    for p, want in expected.items():
        assert got[p] == want, p  # the same doubles
    board = dict(Ranks(data).page("pong", "glicko2", 0, 100).rows)
    assert board == {p: r.rating - 2 * r.rd for p, r in got.items()}
    winners = {w for w, _ in games}
    for p in winners - {lo for _, lo in games}:  # only ever won: rated above the start
        assert got[p].rating > handler.rating
    rate_games(store, handler, games, batch, summed)  # a replay changes nothing
    assert stored(data, set(expected)) == got


def test_the_handler() -> None:
    assert BUILTIN["glicko2"] is Glicko2Leaderboard
    handler = Glicko2Leaderboard()
    (board,) = handler.boards
    assert (board.name, board.kind, board.start) == ("glicko2", "glicko", 800.0)
    assert list(handler.ops(game("1-0", "a", "b"))) == [
        Glicko2Result("glicko2", "a", "b", 1500.0, 350.0, 0.06, 0.5)]
    for bad in ({"rd": 0}, {"volatility": -1}, {"tau": 0}, {"rating": float("nan")},
                {"rd": float("inf")}):
        with pytest.raises(ValueError):
            Glicko2Leaderboard(**bad)


def test_a_standing_shows_the_rating(data: redis.Redis, settings: Settings,
                                     tmp_path: pytest.TempPathFactory) -> None:
    config = tmp_path / "products.toml"  # type: ignore[operator]
    config.write_text('[products]\npong = { handlers = [{ use = "glicko2", tau = 0.4 }] }\n')
    handler = Glicko2Leaderboard(tau=0.4)
    Store(data).apply("pong", "s", [PreparedEvent("1-0", "g1", list(handler.ops(
        game("1-0", "ann", "bob"))))])
    app = create_app(Settings(redis_url=settings.redis_url, products_file=str(config)),
                     ApiSettings(rate_limit="off"))
    body = app.test_client().get("/products/pong/boards/glicko2/players/ann").get_json()
    (want,) = [r for p, r in oracle([("ann", "bob")], handler).items() if p == "ann"]
    assert body["glicko"] == pytest.approx(
        {"rating": want.rating, "rd": want.rd, "volatility": want.volatility}, rel=1e-12)
    assert body["score"] == pytest.approx(want.rating - 2 * want.rd, rel=1e-12)
    assert body["rank"] == 1 and "skill" not in body
