"""Redis storage for boards, stats, dedupe marks and dead letters."""

from tracker.storage.deadletters import DeadLetter, DeadLetters
from tracker.storage.keys import Keys
from tracker.storage.ranks import BoardRead, Ranks
from tracker.storage.store import ApplyResult, Forgotten, PreparedEvent, Store
from tracker.storage.timelines import Timelines

__all__ = ["ApplyResult", "BoardRead", "DeadLetter", "DeadLetters", "Forgotten", "Keys",
           "PreparedEvent", "Ranks", "Store", "Timelines"]
