"""Reward hooks: a handler may override ``period_closed`` (:class:`tracker.handlers.Handler`)
to grant the winners of each closed period (:mod:`tracker.closing`) their rewards.

:class:`RewardHooks` reads each product's results stream in a consumer group
(``reward-hooks``) and calls the hook of each result's board, at least once: an
entry is acknowledged only after its hook returned, and one left pending (the
hook raised, or its process died) is claimed again after ``RETRY_IDLE_MS``.
A product's ``reward_webhook`` is a hook too: each result is POSTed to it as JSON
(:func:`post_result`), for game backends that are not written in Python.
Celery beat runs it (``tasks.run_reward_hooks``), cron may (``tracker
run-reward-hooks``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import json
import logging
import os
import socket
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
import redis

from tracker.closing import PeriodResult, PeriodResults, parse_result, results_store
from tracker.commands import redis_errors
from tracker.handlers import Handler
from tracker.products import Product
from tracker.settings import Settings

log = logging.getLogger(__name__)

HOOKS_GROUP = "reward-hooks"  # the hooks' consumer group on each results stream
RETRY_IDLE_MS = 60_000  # a hook call not acknowledged this long is made again
HOOK_PAGE = 100  # results read per round trip by the hooks
WEBHOOK_TIMEOUT_S = 10.0  # a webhook slower than this failed (and is called again later)
SIGNATURE_HEADER = "X-Stats-Tracker-Signature"


@dataclass(frozen=True)
class HookRun:
    """What one run of a product's reward hooks did."""

    called: int = 0  # hook calls that returned (their results acknowledged)
    failed: int = 0  # hook calls that raised (left pending, made again later)


def has_hooks(product: Product) -> bool:
    """Whether anything is called when a period of the product closes."""
    return product.reward_webhook is not None or bool(hooked_boards(product))


def post_result(url: str, result: PeriodResult, secret: str = "") -> None:
    """POST ``result`` as JSON to ``url``; raises unless it answers 2xx. The body is signed
    with ``secret`` (HMAC-SHA256, hex, in ``X-Stats-Tracker-Signature: sha256=…``) when
    one is set; ``Idempotency-Key`` is the same for every call about one result."""
    body = json.dumps(dataclasses.asdict(result), separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "stats-tracker",
               "Idempotency-Key": f"{result.product_id}/{result.id}"}
    if secret:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers[SIGNATURE_HEADER] = f"sha256={digest}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:
        response.read()  # an error status raises (urllib.error.HTTPError)


def hooked_boards(product: Product) -> dict[str, Handler]:
    """Board name -> the handler with a reward hook that writes it."""
    return {board.name: handler for handler in product.handlers
            if type(handler).period_closed is not Handler.period_closed
            for board in handler.boards}


class RewardHooks:
    """Calls the reward hooks of the results published (see the module's docstring)."""

    def __init__(self, results: PeriodResults, consumer: str | None = None,
                 retry_idle_ms: int = RETRY_IDLE_MS, webhook_secret: str = "") -> None:
        self.results = results
        # the group's consumer: this process, so a dead one's entries are claimed by others
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.retry_idle_ms = retry_idle_ms
        self.webhook_secret = webhook_secret

    def run(self, product: Product, pages: int = 10) -> HookRun:
        """Call the hook of each result of ``product`` not acknowledged yet: first those
        pending longer than ``retry_idle_ms``, then up to ``pages`` pages of new ones."""
        if not has_hooks(product):
            return HookRun()
        hooked = hooked_boards(product)
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
            result = parse_result(entry_id, fields)
            calls = self._hooks(product, hooked.get(result.board))
            failing = None
            for name, call in calls:
                try:
                    call(result)
                except Exception:
                    log.exception("%s: the reward hook of %s failed on result %s (made "
                                  "again in %d s)", product.id, name, result.id,
                                  self.retry_idle_ms // 1000)
                    failing = name
                    break
            if failing is not None:
                failed += 1
                continue
            called += bool(calls)
            client.xack(stream, HOOKS_GROUP, entry_id)
        return HookRun(called, failed)

    def _hooks(self, product: Product, handler: Handler | None
               ) -> list[tuple[str, Callable[[PeriodResult], None]]]:
        """What to call with a result of ``product``, named for the log: the hook of the
        handler of its board, then the product's webhook."""
        calls: list[tuple[str, Callable[[PeriodResult], None]]] = []
        if handler is not None:
            calls.append((type(handler).__name__, handler.period_closed))
        if product.reward_webhook is not None:
            calls.append(("the webhook", functools.partial(
                post_result, product.reward_webhook, secret=self.webhook_secret)))
        return calls


@click.command("run-reward-hooks")
@click.option("--retry-after", type=click.IntRange(0), default=RETRY_IDLE_MS // 1000,
              show_default=True, metavar="SECONDS",
              help="Call again the hooks that failed (or whose process died) at least this "
                   "long ago; 0: all of them, say once the rewards service is back.")
def run_reward_hooks_command(retry_after: int) -> None:
    """Call the handlers' reward hooks on the closed periods' results they have not seen,
    and again on those whose call failed, as Celery beat does every
    TRACKER_PERIODIC_SECONDS; for cron, after close-periods, when no beat runs."""
    results, products = results_store()
    hooks = RewardHooks(results, retry_idle_ms=retry_after * 1000,
                        webhook_secret=Settings.from_env().webhook_secret)
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
