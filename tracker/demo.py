"""Demo producer: realistic Rock Paper Scissors Apocalypse (``exrps``) traffic,
and the score submissions of an arcade game (``snake``) between its matches.

Whole matches are written exactly as the Varcade Node game server writes them
(``XADD game_event_stream * product_id … game_id … type … <pairs>``, every
value a string, fields in wire order; see reference/varcade-events.md §3-4).
Several matches run at once, so their entries interleave in the stream as they
would on a busy server; a ``select_weapon`` pair stays adjacent (same tick).

A ``snake`` run ends with one ``type = "score"`` entry per board it feeds
(``high_score`` keeps each player's best, ``total`` adds them up, ``fastest``
keeps the best and, of equal bests, the quickest run: a subscore), as a game that
keeps its own score writes them (README, "Scores a game submits").

Generation is pure (:func:`player_pool`, :func:`match_entries`,
:class:`Traffic`); :func:`run_demo` only paces and writes.
"""

from __future__ import annotations

import json
import logging
import math
import random
import signal
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import FrameType

import click
import redis

from tracker.products import ConfigError, load_products
from tracker.settings import Settings

log = logging.getLogger(__name__)

PRODUCT = "exrps"
FIGHTERS = ("aru", "man", "hog", "rad", "mai")
NONSTANDARD = ("7", "undefined", "1.5", "true")  # client indexes the server copies unchecked
DEFAULT_PLAYERS = 40
DEFAULT_SEED = 1
DEFAULT_RATE = 200.0
DISCONNECT_RATE = 0.04  # share of matches abandoned mid-way (no game_over)
BOTCH_RATE = 0.04  # a loser sends no pick ("null") before the countdown ends
NONSTANDARD_RATE = 0.003
TIE_RATE = 0.2  # both pick the same weapon: nobody is hurt
HIT_POINTS = 3  # hits a fighter takes before losing the round
ROUNDS_TO_WIN = 2  # best of three
SCORE_PRODUCT = "snake"
# a run's score goes to each: the best, the sum, and the best then the quickest run (its
# subscore is the run's milliseconds)
SCORE_BOARDS = ("high_score", "total", "fastest")
TIMED_BOARD = "fastest"
SCORE_SHARE = 0.1  # share of written segments that are snake runs, when snake is configured

Entry = dict[str, str]
Segment = list[Entry]  # entries the server writes in one go (e.g. a select_weapon pair)


@dataclass(frozen=True)
class Player:
    id: str  # canonical dashed lowercase UUID, like the portal's account keys
    skill: float  # Bradley-Terry strength: wins an exchange with p = skill / (skill + other)
    weapons: tuple[float, float, float]  # preference weights for rock, paper, scissors
    fighter: str  # favourite character


def player_pool(n: int = DEFAULT_PLAYERS, seed: int = DEFAULT_SEED) -> list[Player]:
    """``n`` players, the same for the same seed, so boards look stable across runs."""
    if n < 2:
        raise ValueError("a match needs at least 2 players")
    rng = random.Random(seed)
    return [
        Player(
            id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            skill=rng.lognormvariate(0.0, 0.6),
            weapons=(rng.uniform(0.5, 2.0), rng.uniform(0.5, 2.0), rng.uniform(0.5, 2.0)),
            fighter=rng.choice(FIGHTERS),
        )
        for _ in range(n)
    ]


def _entry(game_id: str, type_: str, **fields: str) -> Entry:
    # product_id, game_id, type always come first (§2); kwargs keep wire order.
    return {"product_id": PRODUCT, "game_id": game_id, "type": type_, **fields}


def _weapon(rng: random.Random, player: Player) -> int:
    return rng.choices((0, 1, 2), weights=player.weapons)[0]


def _miss(rng: random.Random) -> str:
    """What a loser who picked nothing sends: usually "null", very rarely junk."""
    nonstandard = NONSTANDARD_RATE / (BOTCH_RATE + NONSTANDARD_RATE)
    return rng.choice(NONSTANDARD) if rng.random() < nonstandard else "null"


def _exchange(rng: random.Random, p1: Player, p2: Player) -> tuple[str, str, int]:
    """One weapon exchange: (P1's event_data, P2's event_data, loser 1 or 2, 0 for none).

    The winner is drawn by skill first, then picks by preference; the loser's
    pick is the weapon that loses to it (rock 0 < paper 1 < scissors 2 < rock),
    or a botch. Any value that is not 0/1/2 counts as a botch in the engine.
    """
    if rng.random() < TIE_RATE:
        if rng.random() < BOTCH_RATE:
            return "null", "null", 0
        same = str(_weapon(rng, p1))
        return same, same, 0
    p1_wins = rng.random() < p1.skill / (p1.skill + p2.skill)
    winner = p1 if p1_wins else p2
    pick = _weapon(rng, winner)
    loser_pick = _miss(rng) if rng.random() < BOTCH_RATE else str((pick + 2) % 3)
    if p1_wins:
        return str(pick), loser_pick, 2
    return loser_pick, str(pick), 1


def _select_weapon(game_id: str, data: str, player: Player) -> Entry:
    return _entry(game_id, "gameplay", event_name="select_weapon", event_data=data,
                  user_id=player.id)


def _round(rng: random.Random, game_id: str, p1: Player, p2: Player) -> tuple[list[Segment], str]:
    """One round: round_started, select_weapon pairs, round_finished; returns its winner id."""
    ids = {"p1_id": p1.id, "p2_id": p2.id}
    segments: list[Segment] = [
        [_entry(game_id, "gameplay", event_name="progression", progress_event="round_started",
                **ids)]
    ]
    hp = {1: HIT_POINTS, 2: HIT_POINTS}
    while hp[1] > 0 and hp[2] > 0:
        d1, d2, loser = _exchange(rng, p1, p2)
        segments.append([_select_weapon(game_id, d1, p1), _select_weapon(game_id, d2, p2)])
        if loser:
            hp[loser] -= 1
    # One hit per exchange, so a double knock-out (which P1 would win) cannot happen here.
    winner, loser_p = (p1, p2) if hp[2] == 0 else (p2, p1)
    segments.append([
        _entry(game_id, "gameplay", round_winner_id=winner.id, round_loser_id=loser_p.id,
               event_name="progression", progress_event="round_finished", **ids)
    ])
    return segments, winner.id


def match_segments(rng: random.Random, p1: Player, p2: Player, game_id: str | None = None,
                   disconnect_rate: float = DISCONNECT_RATE) -> list[Segment]:
    """One whole match (P1 hosts), as segments of entries written together."""
    if p1.id == p2.id:
        raise ValueError("a player cannot play against themself")
    gid = game_id or uuid.uuid4().hex
    out: list[Segment] = [
        [_entry(gid, "state_change", new_state="creator_joined")],
        [_entry(gid, "state_change", new_state="all_players_joined")],
    ]
    for player in (p1, p2):
        fighter = player.fighter if rng.random() < 0.8 else rng.choice(FIGHTERS)
        out.append([_entry(gid, "gameplay", event_name="select_fighter", event_data=fighter,
                           user_id=player.id)])
    for player in (p1, p2):
        out.append([_entry(gid, "gameplay", event_name="set_ready", event_data="",
                           user_id=player.id)])
    wins = {p1.id: 0, p2.id: 0}
    while max(wins.values()) < ROUNDS_TO_WIN:
        segments, round_winner = _round(rng, gid, p1, p2)
        out += segments
        wins[round_winner] += 1
    if rng.random() < disconnect_rate:
        # P2's socket closes at some point after both joined: no game_over is written.
        cut = rng.randrange(2, len(out))
        return [*out[:cut], [_entry(gid, "player_disconnect", player_id=p2.id)],
                [_entry(gid, "game_removed")]]
    winner, loser = (p1, p2) if wins[p1.id] > wins[p2.id] else (p2, p1)
    out.append([_entry(gid, "game_over", winner_id=winner.id, loser_id=loser.id)])
    out.append([_entry(gid, "game_removed")])
    return out


def snake_run(rng: random.Random, player: Player, game_id: str) -> Segment:
    """One finished snake run: its score (10 points a fruit, more for stronger players)
    submitted to each of :data:`SCORE_BOARDS`, with the run's fruit and length in seconds
    as metadata (and its milliseconds as the subscore of :data:`TIMED_BOARD`); equal
    scores are common, as in the game."""
    fruit = max(1, round(rng.lognormvariate(math.log(20 * player.skill), 0.45)))
    seconds = round(fruit * rng.uniform(3.0, 6.0), 1)
    metadata = json.dumps({"fruit": fruit, "seconds": seconds}, separators=(",", ":"))
    timed = {"subscore": str(round(seconds * 1000))}
    return [{"product_id": SCORE_PRODUCT, "game_id": game_id, "type": "score", "board": board,
             "user_id": player.id, "score": str(10 * fruit), "metadata": metadata,
             **(timed if board == TIMED_BOARD else {})}
            for board in SCORE_BOARDS]


def match_entries(rng: random.Random, p1: Player, p2: Player, game_id: str | None = None,
                  disconnect_rate: float = DISCONNECT_RATE) -> list[Entry]:
    """One whole match as a flat list of stream entries, in write order."""
    return [e for seg in match_segments(rng, p1, p2, game_id, disconnect_rate) for e in seg]


def new_game_id() -> str:
    return uuid.uuid4().hex  # as the matchmaker does; unique across demo runs


class Traffic:
    """Interleaves the segments of up to ``concurrency`` matches running at once.

    ``max_matches`` = 0 plays for ever. A player is in one match at a time
    when the pool allows it. About ``score_share`` of the segments are snake
    runs (:func:`snake_run`) of a player of the pool, until the matches end.
    """

    def __init__(self, rng: random.Random, players: Sequence[Player], max_matches: int = 0,
                 concurrency: int = 8, disconnect_rate: float = DISCONNECT_RATE,
                 game_ids: Callable[[], str] = new_game_id, score_share: float = 0.0) -> None:
        if len(players) < 2:
            raise ValueError("a match needs at least 2 players")
        self.rng = rng
        self.players = list(players)
        self.max_matches = max_matches
        self.concurrency = max(1, concurrency)
        self.disconnect_rate = disconnect_rate
        self.game_ids = game_ids
        self.score_share = score_share
        self.scores = 0  # score entries written by snake runs
        self.started = 0
        self.finished = 0  # ended with game_over
        self.disconnected = 0
        self._active: list[tuple[deque[Segment], tuple[str, str]]] = []

    def _busy(self) -> set[str]:
        return {pid for _, pair in self._active for pid in pair}

    def _start(self) -> None:
        busy = self._busy()
        free = [p for p in self.players if p.id not in busy]
        p1, p2 = self.rng.sample(free if len(free) >= 2 else self.players, 2)
        segments = match_segments(self.rng, p1, p2, self.game_ids(), self.disconnect_rate)
        self._active.append((deque(segments), (p1.id, p2.id)))
        self.started += 1

    def next_segment(self) -> Segment | None:
        """The next segment to write, or None when ``max_matches`` are all written."""
        while len(self._active) < self.concurrency and (
                not self.max_matches or self.started < self.max_matches):
            self._start()
        if not self._active:
            return None
        if self.score_share and self.rng.random() < self.score_share:
            run = snake_run(self.rng, self.rng.choice(self.players), self.game_ids())
            self.scores += len(run)
            return run
        i = self.rng.randrange(len(self._active))
        queue, _ = self._active[i]
        segment = queue.popleft()
        if not queue:
            del self._active[i]
        kind = segment[0]["type"]
        if kind == "game_over":
            self.finished += 1
        elif kind == "player_disconnect":
            self.disconnected += 1
        return segment

    def entries(self) -> Iterator[Entry]:
        while (segment := self.next_segment()) is not None:
            yield from segment


@dataclass
class DemoStats:
    events: int = 0
    dropped: int = 0  # entries lost to Redis errors (the real producer only logs them too)
    started: int = 0
    finished: int = 0
    disconnected: int = 0
    scores: int = 0
    began: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.began, 1e-9)
        dropped = f", {self.dropped} dropped" if self.dropped else ""
        return (f"demo: {self.events} events ({self.events / elapsed:.0f}/s), "
                f"{self.finished} matches finished, {self.disconnected} abandoned, "
                f"{self.scores} scores{dropped}")


def run_demo(client: redis.Redis, stream_key: str = "game_event_stream",
             rate: float = DEFAULT_RATE, max_matches: int = 0, *,
             players: Sequence[Player] | None = None, rng: random.Random | None = None,
             concurrency: int = 8, disconnect_rate: float = DISCONNECT_RATE,
             game_ids: Callable[[], str] = new_game_id, score_share: float = 0.0,
             stop: threading.Event | None = None,
             progress: Callable[[DemoStats], None] | None = None,
             progress_every: float = 10.0) -> DemoStats:
    """XADD demo matches at about ``rate`` entries/s (0 = as fast as possible).

    Entries go out in pipelined batches of ~0.1 s worth; between batches the
    loop sleeps on ``stop`` so a stop request ends it at once. Returns when
    ``max_matches`` matches are written (0 = never) or ``stop`` is set.
    """
    if rate < 0:
        raise ValueError("rate must be >= 0")
    stop = stop or threading.Event()
    traffic = Traffic(rng or random.Random(), players or player_pool(), max_matches,
                      concurrency, disconnect_rate, game_ids, score_share)
    stats = DemoStats()
    batch_size = max(1, round(rate / 10)) if rate else 500
    due = time.monotonic()  # when the next batch may go out
    next_progress = due + progress_every
    backoff = 0.5
    while not stop.is_set():
        batch: list[Entry] = []
        while len(batch) < batch_size and (segment := traffic.next_segment()) is not None:
            batch += segment
        if not batch:
            break
        try:
            pipe = client.pipeline(transaction=False)
            for entry in batch:
                pipe.xadd(stream_key, entry)  # type: ignore[arg-type]
            pipe.execute()
            stats.events += len(batch)
            backoff = 0.5
        except redis.RedisError as exc:
            # Fire-and-forget like the game server: log, lose the batch, back off.
            stats.dropped += len(batch)
            log.warning("demo: XADD failed (%s); %d entries dropped", exc, len(batch))
            stop.wait(backoff)
            backoff = min(backoff * 2, 10.0)
        stats.started, stats.finished = traffic.started, traffic.finished
        stats.disconnected, stats.scores = traffic.disconnected, traffic.scores
        now = time.monotonic()
        if progress and now >= next_progress:
            progress(stats)
            next_progress = now + progress_every
        if rate:
            due = max(due + len(batch) / rate, now - 1.0)  # after a stall, don't burst for long
            if due > now:
                stop.wait(due - now)
    return stats


def snake_configured() -> bool:
    """Whether the configured products keep snake's boards (else its scores would only
    be dead-lettered)."""
    try:
        product = load_products(Settings.from_env().products_path).get(SCORE_PRODUCT)
    except (OSError, ConfigError):
        return False  # the workers will say what is wrong with the file
    return product is not None and all(product.board(b) for b in SCORE_BOARDS)


@click.command("demo")
@click.option("--stream-url", default=lambda: Settings.from_env().stream_url,
              show_default="TRACKER_STREAM_URL", help="Redis the game servers write to.")
@click.option("--stream-key", default=lambda: Settings.from_env().stream_key,
              show_default="TRACKER_STREAM_KEY")
@click.option("--rate", type=click.FloatRange(min=0), default=DEFAULT_RATE, show_default=True,
              help="Entries per second (0 = as fast as possible).")
@click.option("--matches", type=click.IntRange(min=0), default=0, show_default=True,
              help="Matches to play (0 = for ever).")
@click.option("--players", type=click.IntRange(min=2), default=DEFAULT_PLAYERS,
              show_default=True, help="Size of the fixed player pool.")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True,
              help="Seed of the player pool (ids and strengths).")
@click.option("--score-share", type=click.FloatRange(0, 1, max_open=True),
              default=lambda: SCORE_SHARE if snake_configured() else 0.0,
              show_default=f"{SCORE_SHARE:g} when the products have {SCORE_PRODUCT}, else 0",
              help=f"Share of writes that are {SCORE_PRODUCT} runs' score submissions.")
def demo_command(stream_url: str, stream_key: str, rate: float, matches: int, players: int,
                 seed: int, score_share: float) -> None:
    """Play realistic Rock Paper Scissors Apocalypse (exrps) matches into the stream,
    with an arcade game's (snake) score submissions between them."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    pool = player_pool(players, seed)
    click.echo(f"demo: {players} players (seed {seed}) -> {stream_key} at {stream_url}, "
               f"{rate:g} events/s, {score_share:.0%} {SCORE_PRODUCT} scores; Ctrl-C stops")
    try:
        stats = run_demo(redis.Redis.from_url(stream_url), stream_key, rate, matches,
                         players=pool, score_share=score_share, stop=stop,
                         progress=lambda s: click.echo(s.line()))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo(stats.line() + (" (stopped)" if stop.is_set() else ""))
