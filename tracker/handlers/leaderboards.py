"""Leaderboard handlers: points per win, win streaks, and Elo, OpenSkill and Glicko-2
ratings (the last four can keep each player's latest games)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from tracker.events import Event
from tracker.handlers.base import (
    GAME_OVER,
    MAX_HISTORY,
    Board,
    EloResult,
    EnsureOnBoard,
    Glicko2Result,
    Handler,
    IncrScore,
    Op,
    OpenSkillResult,
    RecordGame,
    WinStreak,
)

# Ratings are kept on a 1/65536 grid: sums of such numbers are exact in a double,
# so the Elo board stays exactly zero-sum however many games are rated.
RATING_QUANTUM = 1 / 65536


class WinsLeaderboard(Handler):
    """Varcade's default: ``points`` per win; the loser appears on the board unchanged."""

    name = "wins"
    events = GAME_OVER

    def __init__(self, board: str = "wins", points: float = 1.0, loser_on_board: bool = True):
        self.board = board
        self.points = float(points)
        if not math.isfinite(self.points):  # inf/nan would fail the batch script mid-way
            raise ValueError("points must be a finite number")
        self.loser_on_board = bool(loser_on_board)

    @property
    def boards(self) -> tuple[Board, ...]:
        return (Board(self.board, "points"),)

    def ops(self, event: Event) -> Iterable[Op]:
        if event.type != "game_over":
            return ()
        out: list[Op] = [IncrScore(self.board, event["winner_id"], self.points)]
        if self.loser_on_board:
            out.append(EnsureOnBoard(self.board, event["loser_id"], 0.0))
        return out


class RatedGames(Handler):
    """A handler that rates each decided 1v1 game on its board, and with ``history = n``
    keeps each player's ``n`` latest games there (when, the score after, opponent,
    result), written in the same step as the rating."""

    events = GAME_OVER
    board: str
    history: int = 0

    def _set_history(self, history: object) -> None:
        if isinstance(history, bool) or not isinstance(history, int) \
                or not 0 <= history <= MAX_HISTORY:
            raise ValueError(f"history is a number of games from 0 to {MAX_HISTORY}, "
                             f"got {history!r}")
        self.history = history

    def _rated(self, event: Event, op: Op) -> tuple[Op, ...]:
        if not self.history:
            return (op,)
        return (op, RecordGame(self.board, event["winner_id"], event["loser_id"],
                               event.time_ms, self.history))


class WinStreakLeaderboard(RatedGames):
    """The longest win streak of each player, per 1v1 ``game_over``.

    A win makes the winner's current streak one longer; a loss ends the loser's. The
    board keeps each player's longest streak ever (a loser who never won is on it at
    0). Streaks depend on the order of the games, so the script follows it.
    """

    name = "streak"

    def __init__(self, board: str = "streak", history: int = 0):
        self.board = board
        self._set_history(history)

    @property
    def boards(self) -> tuple[Board, ...]:
        return (Board(self.board, "streak", 0.0, history=self.history),)

    def ops(self, event: Event) -> Iterable[Op]:
        if event.type != "game_over":
            return ()
        return self._rated(event, WinStreak(self.board, event["winner_id"], event["loser_id"]))


class EloLeaderboard(RatedGames):
    """Elo rating per 1v1 ``game_over``: R' = R + K(S - E), E = 1/(1 + 10^((Ro - R)/400)).

    Order-sensitive: the store reads both ratings and writes both new ones in
    one atomic script, so concurrent workers cannot interleave. The winner
    gains exactly what the loser loses.
    """

    name = "elo"

    def __init__(self, board: str = "elo", k: float = 32.0, start: float = 1500.0,
                 history: int = 0):
        k, start = float(k), float(start)
        # inf/nan would fail the batch script mid-way (TOML allows inf and nan)
        if not (math.isfinite(k) and k > 0):
            raise ValueError("Elo K must be a positive finite number")
        if not math.isfinite(start):
            raise ValueError("Elo start must be a finite number")
        self.board = board
        self.k = k
        self.start = round(start / RATING_QUANTUM) * RATING_QUANTUM
        self._set_history(history)

    @property
    def boards(self) -> tuple[Board, ...]:
        return (Board(self.board, "rating", self.start, history=self.history),)

    def ops(self, event: Event) -> Iterable[Op]:
        if event.type != "game_over":
            return ()
        return self._rated(event, EloResult(self.board, event["winner_id"], event["loser_id"],
                                            self.k, self.start))


class OpenSkillLeaderboard(RatedGames):
    """OpenSkill (Weng-Lin Bayesian rating, Plackett-Luce model) per 1v1 ``game_over``.

    Each player has a skill estimate ``mu`` and its uncertainty ``sigma``; the board
    holds the conservative *ordinal* ``mu - 3 sigma``, which a newcomer starts at 0
    with the defaults. The update is openskill's ``PlackettLuce.rate`` for two teams
    of one, run inside the batch script so that it reads and writes atomically
    (tests check it against the openskill package). Unlike Elo it is not zero-sum.
    """

    name = "openskill"

    def __init__(self, board: str = "openskill", mu: float = 25.0, sigma: float = 25 / 3,
                 beta: float = 25 / 6, kappa: float = 0.0001, tau: float = 25 / 300,
                 history: int = 0):
        values = {"mu": float(mu), "sigma": float(sigma), "beta": float(beta),
                  "kappa": float(kappa), "tau": float(tau)}
        if not all(math.isfinite(v) for v in values.values()):
            raise ValueError("OpenSkill parameters must be finite numbers")
        if values["sigma"] <= 0 or values["beta"] <= 0 or values["kappa"] <= 0 \
                or values["tau"] < 0:
            raise ValueError("OpenSkill sigma, beta and kappa are positive, tau not negative")
        self.board = board
        self.mu, self.sigma = values["mu"], values["sigma"]
        self.beta, self.kappa, self.tau = values["beta"], values["kappa"], values["tau"]
        self._set_history(history)

    @property
    def boards(self) -> tuple[Board, ...]:
        return (Board(self.board, "skill", openskill_ordinal(self.mu, self.sigma),
                      history=self.history),)

    def ops(self, event: Event) -> Iterable[Op]:
        if event.type != "game_over":
            return ()
        return self._rated(event, OpenSkillResult(
            self.board, event["winner_id"], event["loser_id"], self.mu, self.sigma, self.beta,
            self.kappa, self.tau))


class Glicko2Leaderboard(RatedGames):
    """Glicko-2 (Glickman) per 1v1 ``game_over``, each game its own rating period.

    Each player has a ``rating``, its deviation ``rd`` and a ``volatility``; the board
    holds the lower end of a 95 % interval, ``rating - 2 rd`` (800 for a newcomer with
    the defaults), so a player climbs by playing as well as by winning. The update runs
    inside the batch script, atomically (tests check it against Glickman's worked
    example). Glickman advises periods of 10 or more games; rating each game alone, as
    online servers do, moves new players faster and idle players' rd does not grow.
    """

    name = "glicko2"

    def __init__(self, board: str = "glicko2", rating: float = 1500.0, rd: float = 350.0,
                 volatility: float = 0.06, tau: float = 0.5, history: int = 0):
        values = {"rating": float(rating), "rd": float(rd), "volatility": float(volatility),
                  "tau": float(tau)}
        if not all(math.isfinite(v) for v in values.values()):
            raise ValueError("Glicko-2 parameters must be finite numbers")
        if values["rd"] <= 0 or values["volatility"] <= 0 or values["tau"] <= 0:
            raise ValueError("Glicko-2 rd, volatility and tau must be positive")
        self.board = board
        self.rating, self.rd = values["rating"], values["rd"]
        self.volatility, self.tau = values["volatility"], values["tau"]
        self._set_history(history)

    @property
    def boards(self) -> tuple[Board, ...]:
        return (Board(self.board, "glicko", self.rating - 2.0 * self.rd, history=self.history),)

    def ops(self, event: Event) -> Iterable[Op]:
        if event.type != "game_over":
            return ()
        return self._rated(event, Glicko2Result(self.board, event["winner_id"],
                                                event["loser_id"], self.rating, self.rd,
                                                self.volatility, self.tau))


def openskill_ordinal(mu: float, sigma: float) -> float:
    """The board score of a rating: mu - 3 sigma (openskill's ``ordinal()``)."""
    return mu - 3.0 * sigma


def elo_delta(winner_rating: float, loser_rating: float, k: float) -> float:
    """The rating points the winner takes from the loser (same rounding as the Lua script)."""
    expected = 1.0 / (1.0 + 10.0 ** ((loser_rating - winner_rating) / 400.0))
    return float(int(k * (1.0 - expected) / RATING_QUANTUM + 0.5)) * RATING_QUANTUM
