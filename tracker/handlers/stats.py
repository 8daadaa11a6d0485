"""Player-stats handlers: games/wins/losses, and exRPS weapon selections."""

from __future__ import annotations

from collections.abc import Iterable

from tracker.events import Event
from tracker.handlers.base import GAME_OVER, Handler, IncrStat, Op


class PlayerStats(Handler):
    """Per ``game_over``: winner games+1 wins+1 losses+0; loser games+1 losses+1 wins+0.

    The +0 makes the field exist, as in Varcade: after any game a player
    always has ``games``, ``wins`` and ``losses``.
    """

    name = "player_stats"
    events = GAME_OVER

    def ops(self, event: Event) -> Iterable[Op]:
        if event.type != "game_over":
            return ()
        winner, loser = event["winner_id"], event["loser_id"]
        return (
            IncrStat(winner, "games"),
            IncrStat(winner, "wins"),
            IncrStat(winner, "losses", 0),
            IncrStat(loser, "games"),
            IncrStat(loser, "losses"),
            IncrStat(loser, "wins", 0),
        )


# select_weapon's event_data is the engine's weapon index after JS string
# concatenation: "0" rock, "1" paper, "2" scissors, "null" no pick (a botch).
WEAPONS = {"0": "rock", "1": "paper", "2": "scissors", "null": "botch"}
INVALID_SELECTION = "invalid_selection_count"


class ExrpsStats(PlayerStats):
    """Rock Paper Scissors Apocalypse: generic stats plus weapon selection counts.

    Policy for non-standard indexes: the server copies the client's index
    unchecked, so ``event_data`` can be ``"7"``, ``"1.5"``, ``"undefined"`` ...
    Those are real moves (the engine scores them as a botch), so we neither drop
    them (as Varcade did) nor dead-letter them: they count in
    ``invalid_selection_count``, visible in the player's stats. Only the exact
    strings ``"0"``, ``"1"``, ``"2"`` and ``"null"`` count as a weapon.
    """

    name = "exrps_stats"
    events = GAME_OVER | {("gameplay", "select_weapon")}

    def ops(self, event: Event) -> Iterable[Op]:
        if event.event_name == "select_weapon":
            weapon = WEAPONS.get(event["event_data"])
            stat = f"{weapon}_selection_count" if weapon else INVALID_SELECTION
            return (IncrStat(event["user_id"], stat),)
        return super().ops(event)
