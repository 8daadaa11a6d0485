"""Product handlers and their registry. See :mod:`tracker.handlers.base` for the contract."""

from tracker.handlers.base import (
    AddToTimeline,
    Board,
    Decrement,
    EloResult,
    EnsureOnBoard,
    Glicko2Result,
    Handler,
    IncrScore,
    IncrStat,
    KeepBest,
    Op,
    OpenSkillResult,
    RateLimit,
    RecordGame,
    SetMetadata,
    SetScore,
    Submitted,
    WinStreak,
)
from tracker.handlers.edx import TrackingLogs
from tracker.handlers.leaderboards import (
    EloLeaderboard,
    Glicko2Leaderboard,
    OpenSkillLeaderboard,
    WinsLeaderboard,
    WinStreakLeaderboard,
)
from tracker.handlers.scores import ScoreLeaderboard
from tracker.handlers.stats import ExrpsStats, PlayerStats

# Names usable in products.toml without an import path.
BUILTIN: dict[str, type[Handler]] = {
    cls.name: cls for cls in (WinsLeaderboard, EloLeaderboard, OpenSkillLeaderboard,
                              Glicko2Leaderboard, WinStreakLeaderboard, ScoreLeaderboard,
                              PlayerStats, ExrpsStats, TrackingLogs)
}

__all__ = [
    "BUILTIN",
    "AddToTimeline",
    "Board",
    "Decrement",
    "EloLeaderboard",
    "EloResult",
    "EnsureOnBoard",
    "ExrpsStats",
    "Glicko2Leaderboard",
    "Glicko2Result",
    "Handler",
    "IncrScore",
    "IncrStat",
    "KeepBest",
    "Op",
    "OpenSkillLeaderboard",
    "OpenSkillResult",
    "PlayerStats",
    "RateLimit",
    "RecordGame",
    "ScoreLeaderboard",
    "SetMetadata",
    "SetScore",
    "Submitted",
    "TrackingLogs",
    "WinStreak",
    "WinStreakLeaderboard",
    "WinsLeaderboard",
]
