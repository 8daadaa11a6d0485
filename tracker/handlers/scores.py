"""Scores that games submit themselves: ``type = "score"`` events (:class:`~tracker.events.
ScoreSchema`), each naming its board, kept there by the board's write operator, as
Nakama's, PlayFab's and Unity's leaderboards do.

Varcade's matches carry no score; a racing game or an arcade high-score table does.
Each player's record on a board counts its submissions and keeps the first's and the
last's times. A submission may carry metadata (a JSON object: the car driven, a replay
id), kept with the record: on a best or latest board, that of the submission the score
came from (none if it had none); on a sum board, the latest submitted. One line of
configuration per board:

    race = { handlers = [{ use = "score", board = "laps", operator = "best", order = "asc" }] }

``attempts = 3`` makes a board a tournament's: each player's first three submissions
count (per period, on a board kept per period: all-time takes every submission); a
later one changes nothing and is counted as refused (``tracker_scores_refused_total``).
``max_players = 100`` likewise lets in the first hundred players to submit.
``join_required = true`` takes only the submissions of players who joined the board
first (``type = "join"`` entries, Nakama's ``JoinTournament``); then ``max_players`` caps
the players who join.

``rate_limit = { submissions = 30, seconds = 120 }`` counts at most 30 submissions of
a player in each 120 seconds (windows of event time from the Unix epoch), as PlayFab's
and Unity's write limits: a flood from one account (a cheat's script through the game
server) is counted as refused rather than summed. It goes with the operators best,
latest and sum, and with a tournament's limits.

``subscore = "asc"`` (or ``"desc"``) ranks equal scores by a second column each
submission carries, the lowest (highest) first: laps, then race time. A submission
beats the record when it wins on the score or ties on it and wins on the subscore
(:mod:`tracker.subscore`); such a board keeps the best or the latest.
"""

from __future__ import annotations

from collections.abc import Iterable

from tracker import subscore as packing
from tracker.events import BOARD_NAME_RE, SCORE_OPERATORS, Event
from tracker.handlers.base import (
    Attempt,
    Board,
    Decrement,
    Handler,
    IncrScore,
    Join,
    KeepBest,
    Op,
    RateLimit,
    SetMetadata,
    SetScore,
    Submitted,
)

# operator -> the kind of its boards
OPERATORS: dict[str, str] = {
    "best": "best",  # the member's best submission (Nakama best, PlayFab Max/Min)
    "latest": "latest",  # its latest, in event order (UGS keepLatest, PlayFab Last)
    "sum": "points",  # all its submissions added up (Nakama incr, PlayFab Sum)
    "decr": "points",  # each submission taken off, never below 0 (Nakama decr)
}
assert tuple(OPERATORS) == SCORE_OPERATORS
SCORE_EVENTS: frozenset[tuple[str, str | None]] = frozenset({("score", None), ("join", None)})
LIMITED = ("best", "latest")  # the operators of a board that counts attempts
RATED = ("best", "latest", "sum")  # the operators of a board with a rate limit
MAX_RATE = (10_000, 86_400)  # the most submissions per window, and the longest window (s)


class ScoreLeaderboard(Handler):
    """Keeps the scores submitted to ``board`` with ``operator``: "best", "latest", "sum" or
    "decr".

    A score event for another board is not this handler's: each score board has its own
    ``score`` handler, and an event that none of them takes is dead-lettered as
    ``unknown_board`` (:mod:`tracker.processing`).
    """

    name = "score"
    events = SCORE_EVENTS

    def __init__(self, board: str = "score", operator: str = "best", attempts: int = 0,
                 max_players: int = 0, subscore: str = "", join_required: bool = False,
                 rate_limit: dict[str, int] | None = None):
        if not isinstance(board, str) or not BOARD_NAME_RE.match(board):
            raise ValueError(f"board is a board name (1-64 of A-Z a-z 0-9 _ . -), got {board!r}")
        if operator not in OPERATORS:
            raise ValueError(f"operator is one of {list(OPERATORS)}, got {operator!r}")
        for name, n in (("attempts", attempts), ("max_players", max_players)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise ValueError(f"{name} is a whole number (0: any), got {n!r}")
        if not isinstance(join_required, bool):
            raise ValueError(f"join_required is true or false, got {join_required!r}")
        if (attempts or max_players or join_required) and operator not in LIMITED:
            raise ValueError(f"attempts, max_players and join_required go with the operators "
                             f"{list(LIMITED)} (a tournament keeps each player's best or "
                             f"latest), not {operator!r}")
        if subscore and subscore not in packing.DIRECTIONS:
            raise ValueError(f"subscore is one of {list(packing.DIRECTIONS)} (the highest or "
                             f"the lowest first), got {subscore!r}")
        if subscore and operator not in LIMITED:
            raise ValueError(f"a board with a subscore keeps one submission per player, with "
                             f"the operators {list(LIMITED)}, not {operator!r}")
        self.rate_limit = _rate_limit(rate_limit)
        if self.rate_limit and operator not in RATED:
            raise ValueError(f"rate_limit goes with the operators {list(RATED)}, not "
                             f"{operator!r}")
        self.board = board
        self.operator = operator
        self.subscore = subscore
        self.attempts = attempts
        self.max_players = max_players
        self.join_required = join_required
        self._kind = OPERATORS[operator]
        # whether submissions are checked, kept and counted in one step (an Attempt)
        self._tournament = bool(attempts or max_players or join_required)
        self._limited = self._tournament or self.rate_limit is not None

    @property
    def boards(self) -> tuple[Board, ...]:
        return (Board(self.board, self._kind, records=True, attempts=self.attempts,
                      max_players=self.max_players, subscore=self.subscore,
                      join_required=self.join_required, rate_limit=self.rate_limit),)

    def ops(self, event: Event) -> Iterable[Op]:
        if event["board"] != self.board:
            return ()
        if event.type == "join":
            return (self._join(event),)
        user, metadata = event["user_id"], event.get("metadata")
        counted = Submitted(self.board, user, min(event.time_ms, 2**53 - 1))
        # a submission may say what it does instead (a correction: "latest" sets the score)
        does = event.get("operator") or self.operator
        score = self._score(event, does)
        if self._limited:
            if self._tournament and does not in LIMITED:
                raise ValueError(f"board {self.board!r} is a tournament's: a submission keeps "
                                 f"the best or the latest, not {does!r}")
            if does not in RATED:
                raise ValueError(f"board {self.board!r} has a rate limit: a submission keeps "
                                 f"the best or the latest, or adds up, not {does!r}")
            # players who must join are counted as they join, not as they submit
            capacity = 0 if self.join_required else self.max_players
            limit = self.rate_limit
            return (Attempt(self.board, user, score, does, self.attempts, counted.at_ms,
                            metadata or "", capacity, int(self.join_required),
                            limit.submissions if limit else 0,
                            limit.seconds * 1000 if limit else 0),)
        if does == "best" or does == "latest":
            # the record is one submission: its score with its metadata, or none
            keep = KeepBest if does == "best" else SetScore
            return keep(self.board, user, score, metadata or ""), counted
        if does == "decr" and score < 0:
            raise ValueError(f"a decrement takes a score off: {event['score']} is negative")
        change = (IncrScore(self.board, user, score) if does == "sum"
                  else Decrement(self.board, user, score))
        if metadata is None:  # a sum keeps the latest metadata submitted with it
            return change, counted
        return change, SetMetadata(self.board, user, metadata), counted

    def _join(self, event: Event) -> Join:
        if not self.join_required:
            raise ValueError(f"board {self.board!r} takes no joins: every player's scores "
                             f"count (set join_required = true to ask for them)")
        return Join(self.board, event["user_id"], self.max_players,
                    min(event.time_ms, 2**53 - 1))

    def _score(self, event: Event, does: str) -> float:
        """The number the board keeps for the submission: its score, or on a board with a
        subscore both columns packed (:mod:`tracker.subscore`)."""
        # the schema admits only plain decimals of at most 15 integer digits: finite
        score = float(event["score"])
        if not self.subscore:
            if "subscore" in event.data:
                raise ValueError(f"board {self.board!r} has no subscore: configure it with "
                                 f"subscore = \"asc\" or \"desc\", then replay")
            return score
        if does not in LIMITED:
            raise ValueError(f"board {self.board!r} ranks by a subscore: a submission keeps "
                             f"the best or the latest, not {does!r}")
        if "subscore" not in event.data:
            raise ValueError(f"board {self.board!r} ranks by a subscore: the submission has "
                             f"none")
        return packing.packed(score, int(event["subscore"]), self.subscore)

    def __repr__(self) -> str:
        limit = (f", attempts={self.attempts}" if self.attempts else "") + (
            f", max_players={self.max_players}" if self.max_players else "")
        limit += f", subscore={self.subscore!r}" if self.subscore else ""
        limit += ", join_required=True" if self.join_required else ""
        if self.rate_limit:
            limit += (f", rate_limit={{'submissions': {self.rate_limit.submissions}, "
                      f"'seconds': {self.rate_limit.seconds}}}")
        return f"ScoreLeaderboard(board={self.board!r}, operator={self.operator!r}{limit})"


def _rate_limit(spec: object) -> RateLimit | None:
    """``{ submissions = n, seconds = s }`` as a RateLimit; None (no limit) as None."""
    if spec is None:
        return None
    most, longest = MAX_RATE
    if isinstance(spec, dict) and set(spec) == {"submissions", "seconds"}:
        n, seconds = spec["submissions"], spec["seconds"]
        if all(isinstance(x, int) and not isinstance(x, bool) for x in (n, seconds)) \
                and 1 <= n <= most and 1 <= seconds <= longest:
            return RateLimit(n, seconds)
    raise ValueError(f"rate_limit is {{ submissions = 1-{most:,}, seconds = 1-{longest:,} }} "
                     f"(at most that many submissions of a player per that many seconds), "
                     f"got {spec!r}")
