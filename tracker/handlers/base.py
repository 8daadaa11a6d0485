"""The handler contract: an event in, a list of storage operations out.

Handlers never touch Redis. They describe *what* changes; the store applies
all operations of a batch, with the dedupe marks, in one atomic Lua script.
That keeps handlers trivially testable and makes every write idempotent.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from tracker.events import Event
from tracker.ranking import DEFAULT_TIE_MODE, TieMode

if TYPE_CHECKING:
    from tracker.closing import PeriodResult
    from tracker.periods import PeriodPolicy
    from tracker.tiers import Tier


@dataclass(frozen=True, slots=True)
class IncrScore:
    """Add ``delta`` to ``member``'s score on ``board`` (ZINCRBY)."""

    board: str
    member: str
    delta: float


@dataclass(frozen=True, slots=True)
class EnsureOnBoard:
    """Put ``member`` on ``board`` with ``score`` unless it is already there (ZADD NX)."""

    board: str
    member: str
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class KeepBest:
    """Put ``member`` on ``board`` with ``score`` if that beats its score there (or it is
    not there yet): the board keeps each member's best (Nakama's and UGS's "best").

    ``metadata`` (a JSON object's text, "" for none) goes with the score: kept on the board
    beside it when it becomes the best; None leaves the board's metadata alone."""

    board: str
    member: str
    score: float
    metadata: str | None = None


@dataclass(frozen=True, slots=True)
class SetScore:
    """Put ``member`` on ``board`` with ``score``, whatever it had: the board keeps each
    member's latest score, in event order (UGS's "keepLatest", PlayFab's "Last").
    ``metadata`` as :class:`KeepBest`'s."""

    board: str
    member: str
    score: float
    metadata: str | None = None


@dataclass(frozen=True, slots=True)
class Decrement:
    """Take ``amount`` (not negative) off ``member``'s score on ``board``, never below 0
    (Nakama's "decr"): a member not there yet is put there at 0. ``sign`` is how Redis
    keeps it: -1 subtracts, floor 0; +1 (a lowest-first board, kept negated) adds, ceiling 0."""

    board: str
    member: str
    amount: float
    sign: int = -1


@dataclass(frozen=True, slots=True)
class SetMetadata:
    """Keep ``metadata`` (a JSON object's text) with ``member``'s record on ``board``, in
    event order, whatever its score: a sum board's latest submission's."""

    board: str
    member: str
    metadata: str


@dataclass(frozen=True, slots=True)
class Submitted:
    """Count a submission of ``member`` to ``board`` made at ``at_ms`` (Unix ms, its entry's
    time): its record's number of submissions and first and last times (score boards)."""

    board: str
    member: str
    at_ms: int


@dataclass(frozen=True, slots=True)
class Attempt:
    """A submission of ``member`` to ``board``, a board that limits them (a tournament's,
    or one with a rate limit): it takes at most ``limit`` of each member's submissions
    (its attempts; 0: any number), at most ``capacity`` members (0: any number) and at
    most ``rate`` submissions of a member per window (0: any number). Unless one of
    those is reached, it is kept as ``mode`` says ("best" or "latest", with
    ``metadata``, "" for none, as :class:`KeepBest` and :class:`SetScore` keep theirs;
    "sum" adds it, keeping ``metadata`` unless "") and counted with its time ``at_ms``,
    as :class:`Submitted` counts; else it changes nothing on the board and is counted as
    refused for the product."""

    board: str
    member: str
    score: float
    mode: str
    limit: int
    at_ms: int
    metadata: str = ""
    capacity: int = 0
    joined: int = 0  # 1: refused too unless the member joined the board (Join)
    # refused too past ``rate`` of the member's submissions in the same window of
    # ``window_ms`` (Unix time in windows of that length, by ``at_ms``); 0: any number
    rate: int = 0
    window_ms: int = 0
    # 1: a period board's copy of the all-time attempt just before it, refused when that
    # one was refused by its rate (decided once per submission, counted refused once)
    follows: int = 0


ATTEMPT_MODES = ("best", "latest", "sum")


@dataclass(frozen=True, slots=True)
class Join:
    """``member`` joins ``board``, a tournament's board that takes submissions only from
    the players who joined it (``join_required``, Nakama's): at most ``capacity`` members
    join (0: any number). Joining again changes nothing; a join past the capacity changes
    nothing and is counted as refused for the product. Joined at ``at_ms`` (Unix ms)."""

    board: str
    member: str
    capacity: int
    at_ms: int


@dataclass(frozen=True, slots=True)
class IncrStat:
    """Add ``delta`` to one counter in a player's stats hash (HINCRBY)."""

    user_id: str
    stat: str
    delta: int = 1


@dataclass(frozen=True, slots=True)
class EloResult:
    """Rate one decided 1v1 game on ``board`` (read-compute-write inside the script)."""

    board: str
    winner: str
    loser: str
    k: float
    start: float


@dataclass(frozen=True, slots=True)
class OpenSkillResult:
    """Rate one decided 1v1 game with OpenSkill (Weng-Lin, Plackett-Luce) on ``board``.

    The script reads both players' (mu, sigma), updates them, keeps them in the
    players' rating hashes and puts each one's ordinal (mu - 3 sigma) on the board.
    """

    board: str
    winner: str
    loser: str
    mu: float  # a newcomer's
    sigma: float  # a newcomer's
    beta: float
    kappa: float
    tau: float


@dataclass(frozen=True, slots=True)
class WinStreak:
    """A decided game for the players' win streaks: the winner's current streak grows by
    one and ``board`` keeps each player's longest; the loser's streak ends (and the loser
    is put on the board at 0 unless there already)."""

    board: str
    winner: str
    loser: str


@dataclass(frozen=True, slots=True)
class Glicko2Result:
    """Rate one decided 1v1 game with Glicko-2 on ``board``, the game its own rating period.

    The script reads both players' (rating, rd, volatility), updates them, keeps them
    in the players' rating hashes and puts each one's ``rating - 2 rd`` on the board.
    """

    board: str
    winner: str
    loser: str
    rating: float  # a newcomer's
    rd: float  # a newcomer's
    volatility: float  # a newcomer's
    tau: float  # how much the volatility may change


@dataclass(frozen=True, slots=True)
class RecordGame:
    """Note a decided game in both players' histories on ``board``: when, the score each
    has on the board after it, the opponent and the result; each history keeps its
    ``keep`` latest games. Comes after the op that rated the game, in the same event."""

    board: str
    winner: str
    loser: str
    at_ms: int  # the event time
    keep: int


@dataclass(frozen=True, slots=True)
class AddToTimeline:
    """Keep ``record`` (one event, as text) in ``timeline`` at ``time`` (Unix seconds).

    A timeline (for example one course's tracking-log events) is a set ordered by
    time: the same record twice is kept once. Each write also counts the timeline
    as changed, so that whatever derives figures from it (:mod:`tracker.edx.ingest`)
    knows to do it again.
    """

    timeline: str
    record: str
    time: float


Op = (IncrScore | EnsureOnBoard | KeepBest | SetScore | Decrement | Attempt | Join
      | SetMetadata | Submitted | IncrStat | EloResult | OpenSkillResult | Glicko2Result
      | WinStreak | RecordGame | AddToTimeline)
OP_TYPES = (IncrScore, EnsureOnBoard, KeepBest, SetScore, Decrement, Attempt, Join,
            SetMetadata, Submitted, IncrStat, EloResult, OpenSkillResult, Glicko2Result,
            WinStreak, RecordGame, AddToTimeline)
# a member's score, set
BOARD_OPS = (IncrScore, EnsureOnBoard, KeepBest, SetScore, Decrement, Attempt)
# what a member's record on a board holds (and whether it joined the board)
RECORD_OPS = (*BOARD_OPS, SetMetadata, Submitted, Join)

GAME_OVER: frozenset[tuple[str, str | None]] = frozenset({("game_over", None)})
MAX_HISTORY = 1000  # games a history may keep per player


def check_op(op: object) -> Op:
    """Reject an op the store could not apply whole (wrong type, non-finite number).

    Checked before the batch script runs: a script that fails half-way keeps
    the writes it already made, so bad input must never reach it.
    """
    if not isinstance(op, OP_TYPES):
        raise TypeError(f"not a storage operation: {op!r}")
    for name in op.__slots__:
        value = getattr(op, name)
        if name == "metadata" and (value is None or value == "") and type(op) is not SetMetadata:
            continue  # none: the record's metadata is left alone, or cleared
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise TypeError(f"{type(op).__name__}.{name} must be a string or number: {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{type(op).__name__}.{name} is not finite: {value!r}")
        if isinstance(value, str) and not value:
            raise ValueError(f"{type(op).__name__}.{name} is empty")
    if isinstance(op, IncrStat) and not isinstance(op.delta, int):
        raise TypeError(f"IncrStat.delta must be an integer: {op.delta!r}")
    if isinstance(op, RecordGame) and not (isinstance(op.at_ms, int) and isinstance(op.keep, int)
                                           and op.keep > 0):
        raise TypeError(f"RecordGame.at_ms and keep must be integers, keep > 0: {op!r}")
    if isinstance(op, Decrement) and not (op.amount >= 0 and op.sign in (-1, 1)):
        raise ValueError(f"a decrement takes a non-negative amount off: {op!r}")
    if isinstance(op, Submitted | Attempt | Join) and not (isinstance(op.at_ms, int)
                                                          and 0 <= op.at_ms < 2**53):
        raise TypeError(f"{type(op).__name__}.at_ms must be an integer of [0, 2^53): {op!r}")
    if isinstance(op, Attempt) and not (
            op.mode in ATTEMPT_MODES and op.joined in (0, 1) and op.follows in (0, 1)
            and all(isinstance(n, int) and n >= 0
                    for n in (op.limit, op.capacity, op.rate, op.window_ms))
            and (op.rate == 0 or op.window_ms > 0)):
        raise ValueError(f"an attempt keeps the best, the latest or the sum; limit, "
                         f"capacity, rate and window_ms are integers >= 0 (a window with a "
                         f"rate), joined and follows 0 or 1: {op!r}")
    if isinstance(op, Join) and not (isinstance(op.capacity, int) and op.capacity >= 0):
        raise ValueError(f"a join's capacity is an integer >= 0: {op!r}")
    return op


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``submissions`` submissions of a member per ``seconds`` of event time count
    (score boards; PlayFab's and Unity's write limits)."""

    submissions: int
    seconds: int


@dataclass(frozen=True, slots=True)
class Board:
    """A leaderboard a handler writes. ``kind`` tells readers what the score means.

    ``ties`` is how readers rank equal scores unless a request asks otherwise;
    the product configuration sets it (``{ use = "wins", ties = "dense" }``), as it
    sets ``periods`` (:mod:`tracker.periods`), ``tiers`` (:mod:`tracker.tiers`),
    ``ascending`` (``order = "asc"``, :mod:`tracker.order`) and ``earliest``
    (``tie_break = "earliest"``, :mod:`tracker.tiebreak`). A ``score`` handler sets
    ``subscore`` (:mod:`tracker.subscore`).
    """

    name: str
    # "points" (a sum), "best" (the best score submitted), "latest" (the last one), "streak"
    # (the longest win streak), "rating" (Elo), "skill" (OpenSkill: the score is mu - 3
    # sigma) or "glicko" (Glicko-2: the score is rating - 2 rd)
    kind: str
    start: float = 0.0  # score a new member gets
    ties: TieMode = DEFAULT_TIE_MODE
    periods: PeriodPolicy | None = None  # also kept per hour, day, week, month or season
    history: int = 0  # games kept per player (RecordGame), 0: none
    tiers: tuple[Tier, ...] = ()  # named bands by score, rank or percent (tracker.tiers)
    ascending: bool = False  # the lowest score ranks first (points, best; tracker.order)
    earliest: bool = False  # equal scores: the earlier achievement first (tracker.tiebreak)
    # each member's record keeps its submissions' count and times, and metadata (score boards)
    records: bool = False
    attempts: int = 0  # submissions taken per member, per period on a period board; 0: any
    max_players: int = 0  # members taken, the first to submit (per period likewise); 0: any
    # a member's submissions count only once it joined (a "join" event; then max_players
    # caps the players who join), as Nakama's join_required tournaments
    join_required: bool = False
    rate_limit: RateLimit | None = None  # None: any number of submissions counts
    # "desc" or "asc": equal scores rank by a subscore, the highest or the lowest first; its
    # numbers pack both (tracker.subscore); "": none
    subscore: str = ""


class Handler(ABC):
    """Base class for product handlers.

    Subclasses override :meth:`ops`. ``boards`` lists the leaderboards the
    handler writes, so the API can list them; ``events`` may say which events
    it reads. Constructor keyword arguments
    come from the product configuration (``{ use = "elo", k = 24 }``).
    """

    name: ClassVar[str] = ""
    # The (type, event_name) of the events this handler can turn into ops, if it
    # knows; None: any event. Workers skip handlers for the other events (most
    # of the traffic is gameplay that only some handlers read).
    events: ClassVar[frozenset[tuple[str, str | None]] | None] = None

    @property
    def boards(self) -> tuple[Board, ...]:
        return ()

    @abstractmethod
    def ops(self, event: Event) -> Iterable[Op]:
        """The storage operations ``event`` implies for this product (none: ``()``)."""

    def period_closed(self, result: PeriodResult) -> None:  # noqa: B027 (optional hook)
        """A reward hook: called when a period of one of this handler's boards has closed,
        once for the board's final standings and once per bucket (``result.bucket``).

        Celery beat's ``tasks.run_reward_hooks`` calls it at least once per result: a
        call that raises, or whose worker dies, is made again a minute later, so make
        it idempotent (``result.id`` is unique). The default does nothing, and results
        of handlers that keep the default are not read at all."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
