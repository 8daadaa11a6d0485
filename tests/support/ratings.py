"""Rating handlers' tests: 1v1 games as events, applied through the batch script."""

from __future__ import annotations

from collections.abc import Sequence

from tracker.events import Event
from tracker.handlers import Handler
from tracker.storage import PreparedEvent, Store

PLAYERS = ["ann", "bob", "cid", "dee", "émile"]
T0 = 1_700_000_000_000  # game i is the entry f"{T0 + i}-0": its event time is T0 + i ms


def game(entry_id: str, winner: str, loser: str) -> Event:
    return Event(entry_id, "pong", "game_over", f"g-{entry_id}", None,
                 {"winner_id": winner, "loser_id": loser})


def rate_games(store: Store, handler: Handler, games: Sequence[tuple[str, str]], batch: int,
               summed: bool) -> None:
    """Apply ``games`` of product pong in batches of ``batch``, in the given batch form."""
    events = [PreparedEvent(f"{T0 + i}-0", f"g{i}", list(handler.ops(game(f"{T0 + i}-0", w, lo))))
              for i, (w, lo) in enumerate(games)]
    for i in range(0, len(events), batch):
        store.apply("pong", "s", events[i:i + batch], summed=summed)
