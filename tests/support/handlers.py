"""Handlers for tests only, referenced from test product files as ``tests.support.handlers:…``."""

from __future__ import annotations

from collections.abc import Iterable

from tracker.events import Event
from tracker.handlers import Handler, Op

POISON_GAME = "0badc0de0badc0de0badc0de0badc0de"


class PoisonPill(Handler):
    """A handler with a bug that hits one event: the result of game ``POISON_GAME``."""

    def ops(self, event: Event) -> Iterable[Op]:
        if event.game_id == POISON_GAME and event.type == "game_over":
            raise RuntimeError(f"poison pill in game {event.game_id}")
        return []
