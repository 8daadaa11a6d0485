"""Closing periods: when a period of a board is over (past its grace), publish its final
standings once, for whatever grants weekly or monthly rewards.

Each close adds to the product's results stream (``<prefix>:{<product>}:period_results``)
one entry for the period's board and one per bucket (:mod:`tracker.periods`):
``product_id``, ``board``, ``period`` with its span (``start_ms``, ``end_ms``: Unix ms),
``size`` and ``top``, the JSON list of the
``results_top`` best ``{rank, user_id, score}`` (competition ranks; and ``subscore``
on a board with one, :mod:`tracker.subscore`), plus ``bucket``.
A game backend reads it with ``XREAD`` or a consumer group and grants its rewards.
The board's own entry is also kept in the board's archive (``…:archive:<board>``, a
hash by period), which the read API serves long after the period's board expired:
an archive that keeps ranks, ``results_top`` rows per period.

Handlers' reward hooks are called on each result by :mod:`tracker.rewards`.

Closing is idempotent: a mark set in the same script as the entries makes a
second close publish nothing, so several schedulers (Celery beat, ``tracker
close-periods`` from cron) may run it. A period board no longer changes once final,
so the standings are final too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import click
import redis

from tracker.commands import configured_product, configured_products, redis_errors
from tracker.handlers import Board
from tracker.manual_seasons import ManualSeasons
from tracker.periods import Period, PeriodKind, period_board
from tracker.products import Product, Products
from tracker.settings import Settings
from tracker.storage import Keys
from tracker.storage.connect import data_client

STREAM_MAXLEN = 100_000  # entries kept in a product's results stream (about)


@dataclass(frozen=True)
class PeriodResult:
    """One entry of a results stream: a closed period's (or bucket's) final standings."""

    id: str  # the stream entry id
    product_id: str
    board: str
    period: str
    size: int
    top: list[dict[str, Any]]  # [{rank, user_id, score[, subscore]}], best first
    bucket: int | None = None
    # the period's span, [start_ms, end_ms) in Unix ms (None in entries published before
    # results carried it)
    start_ms: int | None = None
    end_ms: int | None = None


@dataclass(frozen=True)
class ArchivedPeriod:
    """A closed period of a board, as its archive keeps it."""

    period: Period
    size: int  # players on the period's board when it closed
    top: list[dict[str, Any]]  # [{rank, user_id, score[, subscore]}], best first
    closed_at_ms: int


def due(product: Product, now_ms: int) -> Iterator[tuple[Board, Period]]:
    """The product's kept periods that are over (past their grace), board by board."""
    for board in product.boards:
        policy = board.periods
        if policy is None or not policy.results_top:
            continue
        for period in policy.all_readable(now_ms):
            if policy.is_final(period, now_ms):
                yield board, period


def next_to_close(product: Product, now_ms: int) -> list[tuple[Board, Period, int]]:
    """Per board and kind, the next period that will close and when (Unix ms, its end
    plus grace), soonest first: what a product with no results yet waits for."""
    upcoming = []
    for board in product.boards:
        policy = board.periods
        if policy is None or not policy.results_top:
            continue
        for kind in policy.kinds:
            if kind is PeriodKind.SEASON:
                candidates: Iterable[Period] = policy.seasons
            else:  # the one before, while in its grace, then the current one
                current = Period.containing(kind, now_ms, policy.clock)
                candidates = (current.shift(-1), current)
            period = next((p for p in candidates if not policy.is_final(p, now_ms)), None)
            if period is not None:
                upcoming.append((board, period, policy.final_at(period)))
    return sorted(upcoming, key=lambda row: row[2])


class PeriodResults:
    """Publishes closed periods' standings, and reads them back."""

    def __init__(self, client: redis.Redis, keys: Keys | None = None):
        self.client = client
        self.keys = keys or Keys()
        source = resources.files("tracker.storage").joinpath("close_period.lua").read_text()
        self._close = client.register_script(source)
        self._seasons = ManualSeasons.of(client, self.keys)

    def current(self, product: Product) -> Product:
        """``product`` with the seasons of its boards set at run time, as they are now."""
        return self._seasons.current(product)

    def close(self, product_id: str, board: Board, period: Period) -> int:
        """Publish the period's final standings unless done before; entries published."""
        policy = board.periods
        if policy is None:
            raise ValueError(f"board {board.name!r} has no periods")
        args: list[str | int] = [
            product_id, board.name, period.id, period_board(board.name, period),
            policy.results_top, "1" if board.ascending else "0", policy.expires_ms(period),
            policy.bucket_size, STREAM_MAXLEN, "1" if board.earliest else "0",
            board.subscore, period.start_ms, period.end_ms]
        return int(self._close(keys=[self.keys.product(product_id)], args=args))

    def close_due(self, product: Product, now_ms: int) -> int:
        """Close every period of the product that is over; entries published."""
        return sum(self.close(product.id, board, period)
                   for board, period in due(self.current(product), now_ms))

    def latest(self, product_id: str, count: int) -> list[PeriodResult]:
        """The product's ``count`` latest results, oldest first."""
        rows: Any = self.client.xrevrange(self.keys.period_results(product_id), count=count)
        return [parse_result(entry_id, fields) for entry_id, fields in reversed(rows)]

    def archived_periods(self, product_id: str, board: Board) -> list[Period]:
        """The board's archived periods, the latest ending first (of two ending together,
        the longer first)."""
        raw: Any = self.client.hkeys(self.keys.archive(product_id, board.name))
        parse = board.periods.parse if board.periods is not None else Period.parse
        periods = []
        for name in raw:
            try:
                periods.append(parse(name.decode()))
            except ValueError:  # not written by close_period.lua: not ours to list
                continue
        return sorted(periods, key=lambda p: (p.end_ms, -p.start_ms), reverse=True)

    def archived(self, product_id: str, board: str,
                 periods: list[Period]) -> list[ArchivedPeriod | None]:
        """Each period's archived standings, None where the archive has none."""
        if not periods:
            return []
        raw: Any = self.client.hmget(self.keys.archive(product_id, board),
                                     [p.id for p in periods])
        return [None if text is None else _archived(period, text)
                for period, text in zip(periods, raw, strict=True)]

    def read(self, product_id: str, count: int = 100, after: str = "-") -> list[PeriodResult]:
        """Up to ``count`` entries of the product's results stream after ``after``."""
        start = after if after == "-" else f"({after}"
        rows: Any = self.client.xrange(self.keys.period_results(product_id), start, "+",
                                       count=count)
        return [parse_result(entry_id, fields) for entry_id, fields in rows]


def parse_result(entry_id: bytes, fields: dict[bytes, bytes]) -> PeriodResult:
    """The result a stream entry holds."""
    text = {k.decode(): v.decode() for k, v in fields.items()}
    bucket, start, end = (text.get(name) for name in ("bucket", "start_ms", "end_ms"))
    return PeriodResult(entry_id.decode(), text["product_id"], text["board"], text["period"],
                        int(text["size"]), json.loads(text["top"]),
                        None if bucket is None else int(bucket),
                        None if start is None else int(start), None if end is None else int(end))


def _archived(period: Period, text: bytes) -> ArchivedPeriod:
    found = json.loads(text)
    return ArchivedPeriod(period, int(found["size"]), found["top"], int(found["closed_at"]))


def results_store() -> tuple[PeriodResults, Products]:
    """The results of the configured Redis, and the configured products (commands)."""
    settings = Settings.from_env()
    client = data_client(settings.redis_url, socket_timeout=30)
    return PeriodResults(client, Keys(settings.key_prefix)), configured_products(settings)


@click.command("close-periods")
def close_periods_command() -> None:
    """Publish the final standings of every period that is over, once (as Celery beat
    does every TRACKER_PERIODIC_SECONDS); for cron, or when no beat runs."""
    results, products = results_store()
    now_ms = int(time.time() * 1000)
    with redis_errors():
        for product_id in sorted(products):
            published = results.close_due(products[product_id], now_ms)
            if published:
                click.echo(f"{product_id}: {published} result(s) published")


@click.command("period-results")
@click.argument("product_id")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True,
              help="The latest this many results.")
def period_results_command(product_id: str, limit: int) -> None:
    """Show the latest closed periods' standings of a product, oldest first."""
    results, products = results_store()
    product = configured_product(products, product_id)
    with redis_errors():
        latest = results.latest(product_id, limit)
    if not latest:
        upcoming = next_to_close(results.current(product), int(time.time() * 1000))
        if not upcoming:
            click.echo(f"{product_id} keeps no board per period with results_top > 0: "
                       "it has no period results.")
            return
        click.echo(f"No period of {product_id} has closed yet. Next to close:")
        for board, period, final_ms in upcoming:
            when = datetime.fromtimestamp(final_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")
            click.echo(f"  {board.name} {period.id} at {when} UTC (its end plus grace)")
        return
    for r in latest:
        where = f"{r.board} {r.period}" + ("" if r.bucket is None else f" bucket {r.bucket}")
        best = ", ".join(f"{t['rank']}. {t['user_id']} ({t['score']:g}"
                         + (f" / {t['subscore']}" if "subscore" in t else "") + ")"
                         for t in r.top[:3])
        click.echo(f"{r.id}  {where}: {r.size} player(s); {best}")
