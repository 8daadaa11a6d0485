"""Closing periods: when a period of a board is over (past its grace), publish its final
standings once, for whatever grants weekly or monthly rewards.

Each close adds to the product's results stream (``<prefix>:{<product>}:period_results``)
one entry for the period's board and one per bucket (:mod:`tracker.periods`):
``product_id``, ``board``, ``period``, ``size`` and ``top``, the JSON list of the
``results_top`` best ``{rank, user_id, score}`` (competition ranks), plus ``bucket``.
A game backend reads it with ``XREAD`` or a consumer group and grants its rewards.
The board's own entry is also kept in the board's archive (``…:archive:<board>``, a
hash by period), which the read API serves long after the period's board expired:
an archive that keeps ranks, ``results_top`` rows per period.

Reward hooks: a handler may override ``period_closed`` (:class:`tracker.handlers.Handler`);
:class:`RewardHooks` reads the results stream in a consumer group and calls the
hook of each result's board, at least once: an entry is acknowledged only after
its hook returned, and one left pending (the hook raised, or its process died) is
claimed again after ``RETRY_IDLE_MS``.

Closing is idempotent: a mark set in the same script as the entries makes a
second close publish nothing, so several schedulers (Celery beat, ``tracker
close-periods`` from cron) may run it. A period board no longer changes once final,
so the standings are final too.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

import click
import redis

from tracker.commands import configured_products, redis_errors
from tracker.handlers import Board, Handler
from tracker.periods import Period, period_board
from tracker.products import Product, Products
from tracker.settings import Settings
from tracker.storage import Keys
from tracker.storage.connect import data_client

log = logging.getLogger(__name__)

STREAM_MAXLEN = 100_000  # entries kept in a product's results stream (about)
HOOKS_GROUP = "reward-hooks"  # the hooks' consumer group on each results stream
RETRY_IDLE_MS = 60_000  # a hook call not acknowledged this long is made again
HOOK_PAGE = 100  # results read per round trip by the hooks


@dataclass(frozen=True)
class PeriodResult:
    """One entry of a results stream: a closed period's (or bucket's) final standings."""

    id: str  # the stream entry id
    product_id: str
    board: str
    period: str
    size: int
    top: list[dict[str, Any]]  # [{rank, user_id, score}], best first
    bucket: int | None = None


@dataclass(frozen=True)
class ArchivedPeriod:
    """A closed period of a board, as its archive keeps it."""

    period: Period
    size: int  # players on the period's board when it closed
    top: list[dict[str, Any]]  # [{rank, user_id, score}], best first
    closed_at_ms: int


@dataclass(frozen=True)
class HookRun:
    """What one run of a product's reward hooks did."""

    called: int = 0  # hook calls that returned (their results acknowledged)
    failed: int = 0  # hook calls that raised (left pending, made again later)


def hooked_boards(product: Product) -> dict[str, Handler]:
    """Board name -> the handler with a reward hook that writes it."""
    return {board.name: handler for handler in product.handlers
            if type(handler).period_closed is not Handler.period_closed
            for board in handler.boards}


def due(product: Product, now_ms: int) -> Iterator[tuple[Board, Period]]:
    """The product's kept periods that are over (past their grace), board by board."""
    for board in product.boards:
        policy = board.periods
        if policy is None or not policy.results_top:
            continue
        for kind in policy.kinds:
            for period in policy.readable(kind, now_ms):
                if policy.is_final(period, now_ms):
                    yield board, period


class PeriodResults:
    """Publishes closed periods' standings, and reads them back."""

    def __init__(self, client: redis.Redis, keys: Keys | None = None):
        self.client = client
        self.keys = keys or Keys()
        source = resources.files("tracker.storage").joinpath("close_period.lua").read_text()
        self._close = client.register_script(source)

    def close(self, product_id: str, board: Board, period: Period) -> int:
        """Publish the period's final standings unless done before; entries published."""
        policy = board.periods
        if policy is None:
            raise ValueError(f"board {board.name!r} has no periods")
        args: list[str | int] = [
            product_id, board.name, period.id, period_board(board.name, period),
            policy.results_top, "1" if board.ascending else "0", policy.expires_ms(period),
            policy.bucket_size, STREAM_MAXLEN]
        return int(self._close(keys=[self.keys.product(product_id)], args=args))

    def close_due(self, product: Product, now_ms: int) -> int:
        """Close every period of the product that is over; entries published."""
        return sum(self.close(product.id, board, period)
                   for board, period in due(product, now_ms))

    def latest(self, product_id: str, count: int) -> list[PeriodResult]:
        """The product's ``count`` latest results, oldest first."""
        rows: Any = self.client.xrevrange(self.keys.period_results(product_id), count=count)
        return [_result(entry_id, fields) for entry_id, fields in reversed(rows)]

    def archived_periods(self, product_id: str, board: str) -> list[Period]:
        """The board's archived periods, the latest ending first (of two ending together,
        the longer first)."""
        raw: Any = self.client.hkeys(self.keys.archive(product_id, board))
        periods = []
        for name in raw:
            try:
                periods.append(Period.parse(name.decode()))
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
        return [_result(entry_id, fields) for entry_id, fields in rows]


class RewardHooks:
    """Calls the reward hooks of the results published (see the module's docstring)."""

    def __init__(self, results: PeriodResults, consumer: str,
                 retry_idle_ms: int = RETRY_IDLE_MS) -> None:
        self.results = results
        self.consumer = consumer
        self.retry_idle_ms = retry_idle_ms

    def run(self, product: Product, pages: int = 10) -> HookRun:
        """Call the hook of each result of ``product`` not acknowledged yet: first those
        pending longer than ``retry_idle_ms``, then up to ``pages`` pages of new ones."""
        hooked = hooked_boards(product)
        if not hooked:
            return HookRun()
        client, stream = self.results.client, self.results.keys.period_results(product.id)
        try:  # from the stream's start: results published before the first run count
            client.xgroup_create(stream, HOOKS_GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        claimed: Any = client.xautoclaim(stream, HOOKS_GROUP, self.consumer,
                                         self.retry_idle_ms, count=HOOK_PAGE)
        run = self._call(product, hooked, claimed[1])
        for _ in range(pages):
            read: Any = client.xreadgroup(HOOKS_GROUP, self.consumer, {stream: ">"},
                                          count=HOOK_PAGE)
            rows = read[0][1] if read else []
            page = self._call(product, hooked, rows)
            run = HookRun(run.called + page.called, run.failed + page.failed)
            if len(rows) < HOOK_PAGE:
                break
        return run

    def _call(self, product: Product, hooked: dict[str, Handler],
              rows: list[tuple[bytes, dict[bytes, bytes]]]) -> HookRun:
        client, stream = self.results.client, self.results.keys.period_results(product.id)
        called = failed = 0
        for entry_id, fields in rows:
            if not fields:  # trimmed from the stream while pending: nothing left to call
                client.xack(stream, HOOKS_GROUP, entry_id)
                continue
            result = _result(entry_id, fields)
            handler = hooked.get(result.board)
            if handler is not None:
                try:
                    handler.period_closed(result)
                except Exception:
                    log.exception("%s: the reward hook of %s failed on result %s (made "
                                  "again in %d s)", product.id, type(handler).__name__,
                                  result.id, self.retry_idle_ms // 1000)
                    failed += 1
                    continue
                called += 1
            client.xack(stream, HOOKS_GROUP, entry_id)
        return HookRun(called, failed)


def _result(entry_id: bytes, fields: dict[bytes, bytes]) -> PeriodResult:
    text = {k.decode(): v.decode() for k, v in fields.items()}
    bucket = text.get("bucket")
    return PeriodResult(entry_id.decode(), text["product_id"], text["board"], text["period"],
                        int(text["size"]), json.loads(text["top"]),
                        None if bucket is None else int(bucket))


def _archived(period: Period, text: bytes) -> ArchivedPeriod:
    found = json.loads(text)
    return ArchivedPeriod(period, int(found["size"]), found["top"], int(found["closed_at"]))


def _results_store() -> tuple[PeriodResults, Products]:
    settings = Settings.from_env()
    client = data_client(settings.redis_url, socket_timeout=30)
    return PeriodResults(client, Keys(settings.key_prefix)), configured_products(settings)


@click.command("close-periods")
def close_periods_command() -> None:
    """Publish the final standings of every period that is over, once (as Celery beat
    does every TRACKER_PERIODIC_SECONDS); for cron, or when no beat runs."""
    results, products = _results_store()
    now_ms = int(time.time() * 1000)
    with redis_errors():
        for product_id in sorted(products):
            published = results.close_due(products[product_id], now_ms)
            if published:
                click.echo(f"{product_id}: {published} result(s) published")


@click.command("run-reward-hooks")
@click.option("--retry-after", type=click.IntRange(0), default=RETRY_IDLE_MS // 1000,
              show_default=True, metavar="SECONDS",
              help="Call again the hooks that failed (or whose process died) at least this "
                   "long ago; 0: all of them, say once the rewards service is back.")
def run_reward_hooks_command(retry_after: int) -> None:
    """Call the handlers' reward hooks on the closed periods' results they have not seen,
    and again on those whose call failed, as Celery beat does every
    TRACKER_PERIODIC_SECONDS; for cron, after close-periods, when no beat runs."""
    results, products = _results_store()
    hooks = RewardHooks(results, consumer=f"cli-{socket.gethostname()}-{os.getpid()}",
                        retry_idle_ms=retry_after * 1000)
    failed = 0
    with redis_errors():
        for product_id in sorted(products):
            run = hooks.run(products[product_id])
            failed += run.failed
            if run.called or run.failed:
                click.echo(f"{product_id}: {run.called} hook call(s) returned, "
                           f"{run.failed} failed")
    if failed:
        raise click.ClickException(f"{failed} hook call(s) failed (the log says why); "
                                   "they are made again on a later run")


@click.command("period-results")
@click.argument("product_id")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True,
              help="The latest this many results.")
def period_results_command(product_id: str, limit: int) -> None:
    """Show the latest closed periods' standings of a product, oldest first."""
    results, _ = _results_store()
    with redis_errors():
        latest = results.latest(product_id, limit)
    for r in latest:
        where = f"{r.board} {r.period}" + ("" if r.bucket is None else f" bucket {r.bucket}")
        best = ", ".join(f"{t['rank']}. {t['user_id']} ({t['score']:g})" for t in r.top[:3])
        click.echo(f"{r.id}  {where}: {r.size} player(s); {best}")
