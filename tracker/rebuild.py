"""``tracker rebuild-board``: build one board again from the event stream.

For a board added to a product after its events (a weekly board, a Glicko-2 board beside
Elo), a rating whose parameters changed (Elo's ``k``), or a cheat whose games should leave
every rating (``--without``; ``delete-records`` cannot take a player out of a rating, which
came from games against others).

The product's handlers that write the board, alone, apply in stream order every entry of
the product that the pipeline has applied, to a staging copy of its keys
(``<prefix>:rebuild:<board>:{<product>}:…``, the same hash tag), through the batch script
and with the period rules of a worker running now: an event of a closed period counts
all-time only. Then the board's keys (all-time, open periods with their buckets, records,
ratings, histories) take the place of the live ones, by one script per chunk that first
checks that no worker applied anything of the product meanwhile. Closed periods, their
archives and their published results stay as they closed.

Applied means: up to the consumer group's position, less the entries of parts in flight
that no worker has applied (a worker applies them later, with the board) and the entries
held in the dead letter (a replay of one applies it later).
"""

from __future__ import annotations

import dataclasses
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import click
import redis

from tracker.commands import configured_board, configured_products, redis_errors
from tracker.handlers import Board
from tracker.manual_seasons import ManualSeasons, current_seasons
from tracker.pipeline_state import named_group
from tracker.processing import BatchProcessor, group_by_product
from tracker.products import Product, Products
from tracker.replay import when
from tracker.settings import Settings
from tracker.storage import DeadLetter, DeadLetters, Keys, Ranks, Store
from tracker.storage.connect import data_client
from tracker.storage.inflight import InFlight, Part, unpack_entries
from tracker.text import as_text

PAGE = 4000  # stream entries per read, and at most per batch script
SWAP_CHUNK = 10_000  # keys moved (and deleted) per swap script: ratings are a key per player
LOCK_SECONDS = 3600  # one rebuild of a board at a time; a killed one's lock lapses
ALL_TIME_PARTS = frozenset({"scores", "counts", "meta", "subs", "joined", "buckets", "rate"})


class Interrupted(click.ClickException):
    """A worker applied entries of the product during the rebuild."""


@dataclass(frozen=True)
class Cut:
    """What the pipeline had applied when the rebuild began."""

    last: str  # the consumer group's position: later entries are not read yet
    unapplied: frozenset[str]  # the product's entries in flight that no worker applied
    entries_read: int | None  # the group's count of entries read (None: unknown)


@dataclass
class Rebuilt:
    applied: int = 0  # the product's entries applied to the rebuilt board
    late: int = 0  # of them, too late for their (closed) period: all-time only
    left_out: dict[str, int] = field(default_factory=dict)  # by why
    moved: int = 0  # keys put in place of the live ones
    deleted: int = 0  # live keys the rebuilt board has no counterpart of

    def leave_out(self, why: str, n: int = 1) -> None:
        if n:
            self.left_out[why] = self.left_out.get(why, 0) + n


@dataclass(frozen=True)
class Comparison:
    """A rebuilt all-time board against the live one."""

    players_now: int
    players_after: int
    changed: int  # players on both with another score
    new: int  # players only on the rebuilt board
    gone: int  # players only on the live board
    top_now: list[tuple[str, float]]
    top_after: list[tuple[str, float]]

    def lines(self) -> list[str]:
        def top(rows: list[tuple[str, float]]) -> str:
            return ", ".join(f"{i}. {user} ({score:g})" for i, (user, score) in
                             enumerate(rows, 1)) or "nobody"

        return [f"{self.players_now:,} players now, {self.players_after:,} after; "
                f"{self.changed:,} with another score, {self.new:,} new, {self.gone:,} gone",
                f"  top now:   {top(self.top_now)}", f"  top after: {top(self.top_after)}"]


class _NoLetters(DeadLetters):
    """The rebuild rejects what the pipeline rejected already: nothing is stored twice."""

    def add(self, letters: Sequence[DeadLetter]) -> int:
        return 0


def board_product(product: Product, board: str) -> Product:
    """``product`` with only the handlers that write ``board``."""
    return dataclasses.replace(product, handlers=tuple(
        h for h in product.handlers if any(b.name == board for b in h.boards)))


def take_cut(stream: redis.Redis, flight: InFlight, product_id: str,
             applied: Callable[[list[str]], list[bool]]) -> Cut:
    """The group's position and the parts in flight, read in one transaction (a bridge's
    commit moves both at once); ``applied`` says which entry ids a worker applied."""
    with stream.pipeline(transaction=True) as pipe:
        pipe.xinfo_groups(flight.stream_key)
        pipe.hgetall(flight.parts_key)
        try:
            groups, parts = pipe.execute()
        except redis.ResponseError:  # no stream yet
            groups, parts = [], {}
    info = named_group(groups, flight.group)
    if info is None:
        raise click.ClickException(f"no consumer group {flight.group!r} has read "
                                   f"{flight.stream_key!r} yet: there is nothing to rebuild from")
    unapplied: set[str] = set()
    for name, blob in parts.items():
        if Part.parse(name).product_id == product_id:
            ids = [entry_id for entry_id, _ in unpack_entries(blob)]
            unapplied.update(i for i, done in zip(ids, applied(ids), strict=True) if not done)
    read = info.get("entries-read")
    return Cut(as_text(info["last-delivered-id"]), frozenset(unapplied),
               None if read is None else int(read))


def owned(rest: str, board: str) -> bool:
    """Whether a product's key (without its ``<prefix>:{<product>}:``) is one of the board's:
    its sorted sets and records of every period, its players' ratings and histories."""
    return (rest == f"lb:{board}" or rest.startswith((f"lb:{board}:", f"rating:{board}:",
                                                      f"history:{board}:")))


def replaceable(rest: str, board: Board, now_ms: int) -> bool:
    """Whether a live key of the board (:func:`owned`) is the rebuild's to replace: all but
    those of closed periods (and of periods the board's configuration no longer names)."""
    if not rest.startswith("lb:") or rest == f"lb:{board.name}":
        return True
    part = rest[len(f"lb:{board.name}:"):].split(":", 1)[0]
    if part in ALL_TIME_PARTS:
        return True
    if board.periods is None:
        return False
    try:
        period = board.periods.parse(part)
    except ValueError:
        return False
    return not board.periods.is_final(period, now_ms)


class BoardRebuild:
    """One rebuild of ``board`` of ``product``; ``client`` is the data Redis, ``stream`` the
    stream's."""

    def __init__(self, settings: Settings, client: redis.Redis, stream: redis.Redis,
                 product: Product, board: Board, *, without: Sequence[str] = (),
                 now_ms: int | None = None):
        self.settings, self.client, self.stream = settings, client, stream
        self.product, self.board = product, board
        self.without = {u.encode() for u in without}
        self.now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        self.live = Keys(settings.key_prefix)
        self.stage = Keys(f"{settings.key_prefix}:rebuild:{board.name}")
        self.source = settings.stream_key
        self.lock = f"{self.live.product(product.id)}rebuild:{board.name}"
        self._token = secrets.token_hex(8)
        self._swap = client.register_script(
            resources.files("tracker.storage").joinpath("swap_board.lua").read_text())

    # --- the steps, in order ----------------------------------------------------

    def begin(self) -> tuple[Cut, str]:
        """Take the lock, clear what a crashed rebuild left, and read the cut and the
        product's ``applied`` counter (the swap checks it has not moved)."""
        if not self.client.set(self.lock, self._token, nx=True, ex=LOCK_SECONDS):
            raise click.ClickException(f"{self.product.id}/{self.board.name} is being rebuilt "
                                       f"already (lock {self.lock})")
        try:
            self._delete(self._scan(self.stage.product(self.product.id) + "*"))
            counter = self.client.hget(self.live.counters(self.product.id), "applied")
            flight = InFlight.of(self.stream, self.settings)
            cut = take_cut(self.stream, flight, self.product.id, self._applied)
        except BaseException:
            self.end()
            raise
        return cut, as_text(counter or "")

    def apply(self, cut: Cut, done: Rebuilt, progress: Callable[[int], None]) -> None:
        """Apply the product's applied entries up to the cut to the staging keys."""
        processor = BatchProcessor(
            Products({self.product.id: board_product(self.product, self.board.name)}),
            Store(self.client, self.stage), _NoLetters(self.client, self.stage),
            clock=lambda: self.now_ms / 1000,
            # the live calendars of boards whose seasons are set at run time
            seasons=ManualSeasons.of(self.client, self.live))
        for rows in self._pages(cut.last):
            mine = group_by_product(rows).get(self.product.id, [])
            entries = self._kept(mine, cut, done)
            report = processor.process(self.product.id, self.source, entries)
            done.applied += report.applied
            done.late += report.late
            for reason, n in report.dead_lettered.items():
                if reason != "unknown_board":  # another board's submission
                    done.leave_out(f"rejected ({reason})", n)
            self.client.expire(self.lock, LOCK_SECONDS)  # held while it works
            progress(len(rows))

    def swap(self, counter: str, done: Rebuilt) -> None:
        """Put the staging keys in place of the live ones; :class:`Interrupted` if a worker
        applied entries of the product since :meth:`begin`."""
        stage, live = self.stage.product(self.product.id), self.live.product(self.product.id)
        moves = sorted(((k, live + k[len(stage):]) for k in self._scan(stage + "*")
                        if owned(k[len(stage):], self.board.name)),
                       key=lambda move: not move[1].startswith(f"{live}lb:"))  # boards first
        taken = {dst for _, dst in moves}
        stale = [k for k in self._scan(live + "*")  # one pass over the product's keys
                 if k not in taken and owned(k[len(live):], self.board.name)
                 and replaceable(k[len(live):], self.board, self.now_ms)]
        counters = self.live.counters(self.product.id)
        for at in range(0, max(len(moves), len(stale), 1), SWAP_CHUNK):
            chunk, gone = moves[at:at + SWAP_CHUNK], stale[at:at + SWAP_CHUNK]
            deleted = int(self._swap(keys=[counters, *(s for s, _ in chunk),
                                           *(d for _, d in chunk), *gone],
                                     args=[counter, len(chunk)]))
            if deleted < 0:
                state = ("the live board is unchanged" if at == 0 else
                         f"{done.moved:,} of its {len(moves):,} keys were put in place")
                raise Interrupted(
                    f"a worker applied entries of {self.product.id} during the rebuild: "
                    f"{state}. Stop the workers of queue {self.product.queue!r} and run "
                    "it again")
            done.moved += len(chunk)
            done.deleted += deleted

    def compare(self) -> Comparison:
        """The staged all-time board against the live one (before :meth:`swap`)."""
        def scores(keys: Keys) -> dict[bytes, float]:
            rows: Any = self.client.zrange(keys.board(self.product.id, self.board.name), 0, -1,
                                           withscores=True)
            return dict(rows)

        def top(keys: Keys) -> list[tuple[str, float]]:
            return list(Ranks(self.client, keys).page(
                self.product.id, self.board.name, 0, 3, ascending=self.board.ascending,
                earliest=self.board.earliest).rows)

        now, after = scores(self.live), scores(self.stage)
        return Comparison(len(now), len(after),
                          sum(1 for m, x in after.items() if m in now and now[m] != x),
                          len(after.keys() - now.keys()), len(now.keys() - after.keys()),
                          top(self.live), top(self.stage))

    def end(self) -> None:
        """Drop the staging keys left (the other boards' and the counters) and the lock."""
        self._delete(self._scan(self.stage.product(self.product.id) + "*"))
        if as_text(self.client.get(self.lock) or b"") == self._token:
            self.client.delete(self.lock)

    # --- helpers ------------------------------------------------------------------

    def _applied(self, ids: list[str]) -> list[bool]:
        pipe = self.client.pipeline(transaction=False)
        for entry_id in ids:
            pipe.sismember(self.live.seen(self.product.id, self.source, entry_id), entry_id)
        return [bool(x) for x in pipe.execute()]

    def _pages(self, last: str) -> Iterator[list[tuple[str, dict[bytes, bytes]]]]:
        start = "-"
        while True:
            rows: Any = self.stream.xrange(self.settings.stream_key, start, last, count=PAGE)
            if not rows:
                return
            yield [(as_text(entry_id), raw) for entry_id, raw in rows]
            if len(rows) < PAGE:
                return
            start = f"({as_text(rows[-1][0])}"

    def _kept(self, entries: list[tuple[str, Any]], cut: Cut,
              done: Rebuilt) -> list[tuple[str, Any]]:
        """Those of ``entries`` the pipeline applied, less those naming a ``--without``."""
        if not entries:
            return entries
        held = self.client.smismember(self.live.deadletter_seen,
                                      [f"{self.source}/{entry_id}" for entry_id, _ in entries])
        kept = []
        for (entry_id, raw), letter in zip(entries, held, strict=True):
            if entry_id in cut.unapplied:
                done.leave_out("in flight, not applied yet")
            elif letter:
                done.leave_out("held in the dead letter")
            elif self.without and not self.without.isdisjoint(raw.values()):
                done.leave_out("naming a player of --without")
            else:
                kept.append((entry_id, raw))
        return kept

    def _scan(self, pattern: str) -> list[str]:
        return [as_text(k) for k in self.client.scan_iter(match=pattern, count=1000)]

    def _delete(self, keys: list[str]) -> None:
        for at in range(0, len(keys), 500):
            self.client.delete(*keys[at:at + 500])


def trimmed(stream: redis.Redis, key: str) -> int:
    """How many entries written to stream ``key`` it no longer holds (XTRIM, XDEL, MAXLEN)."""
    try:
        info: Any = stream.xinfo_stream(key)
    except redis.ResponseError:  # no stream yet
        return 0
    return max(0, int(info.get("entries-added", info["length"])) - int(info["length"]))


@click.command("rebuild-board")
@click.argument("product_id", metavar="PRODUCT")
@click.argument("board_name", metavar="BOARD")
@click.option("--without", multiple=True, metavar="USER_ID",
              help="leave out every entry that names this player (a cheat's games); "
                   "repeatable")
@click.option("--yes", is_flag=True, help="do not ask before replacing the board")
@click.option("--trimmed-ok", is_flag=True,
              help="rebuild from a stream that lost entries (trimmed or deleted): the "
                   "board then loses what they counted")
@click.option("--dry-run", is_flag=True,
              help="rebuild aside and say what would change, replacing nothing (the "
                   "workers may run)")
def rebuild_board_command(product_id: str, board_name: str, without: Sequence[str],
                          yes: bool, trimmed_ok: bool, dry_run: bool) -> None:
    """Build BOARD of PRODUCT again from the event stream, with the product's configuration
    as it is now: all-time and its open periods, with records, ratings and histories, then
    put it in place of the live one. Stop the workers of the product's queue first (the
    rebuild refuses to replace the board when one applied entries meanwhile). Reads the
    TRACKER_* settings."""
    settings = Settings.from_env()
    product, board = configured_board(configured_products(settings), product_id, board_name)
    client = data_client(settings.redis_url, socket_timeout=60)
    stream = redis.Redis.from_url(settings.stream_url, socket_timeout=60)
    with redis_errors():  # the seasons its boards set at run time, as they are now
        product = current_seasons(client, Keys(settings.key_prefix), product)
        board = product.board(board.name) or board
    job = BoardRebuild(settings, client, stream, product, board, without=without)
    done = Rebuilt()
    with redis_errors():
        lost = trimmed(stream, settings.stream_key)
        if lost and not trimmed_ok:
            raise click.ClickException(
                f"{settings.stream_key} has lost {lost:,} of the entries written to it "
                "(trimmed or deleted): the rebuilt board would not count them. Pass "
                "--trimmed-ok to rebuild from what is left")
        cut, counter = job.begin()
        try:
            click.echo(f"{product_id}/{board_name}: from {settings.stream_key} up to "
                       f"{cut.last} ({when(cut.last)}); {len(cut.unapplied):,} entries in "
                       "flight are left to the workers")
            if not (yes or dry_run):
                click.confirm("Rebuild it, and replace the live board?", abort=True)
            total = cut.entries_read or int(stream.xlen(settings.stream_key))
            with click.progressbar(length=total, label="entries", file=sys.stderr) as bar:
                job.apply(cut, done, bar.update)
            if dry_run:
                for line in job.compare().lines():
                    click.echo(line)
                click.echo(f"dry run: {product_id}/{board_name} not replaced")
                return
            job.swap(counter, done)
        finally:
            job.end()
    out = ", ".join(f"{n:,} {why}" for why, n in sorted(done.left_out.items()))
    click.echo(f"rebuilt {product_id}/{board_name} from {done.applied:,} entries"
               + (f" ({done.late:,} late: all-time only)" if done.late else "")
               + f"; left out: {out or 'none'}; {done.moved:,} keys put in place, "
               f"{done.deleted:,} stale deleted")
