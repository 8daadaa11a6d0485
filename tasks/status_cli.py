"""``tracker status``: the pipeline at a glance, for an operator at a terminal or a
cron job: the stream and its backlog, dead letters, what each product applied, which
workers consume which queues, Celery beat's last runs, reward hooks and course analyses,
and what needs attention (``--strict``: exit code 1 when anything does).

The same figures as the API's ``/metrics`` (:mod:`tracker.pipeline_state`), plus the
workers, asked through the broker as Flower asks them.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence

import click
import redis

from tasks.celery_app import make_app
from tracker.commands import configured_products, redis_errors
from tracker.pipeline_state import PipelineState, read_state
from tracker.products import Products
from tracker.settings import Settings
from tracker.storage import Keys, Store
from tracker.storage.connect import data_client
from tracker.storage.inflight import InFlight
from tracker.storage.seasons import Season, SeasonCalendar
from tracker.text import utc_text

STALE_RUNS = 10  # beat's runs older than this many TRACKER_PERIODIC_SECONDS need a look


def consumed_queues(settings: Settings, products: Products, timeout: float
                    ) -> dict[str, list[str]]:
    """Each worker that answers within ``timeout`` seconds, with the queues it consumes."""
    inspect = make_app(settings, products).control.inspect(timeout=timeout)
    answers = inspect.active_queues() or {}
    return {worker: sorted(q["name"] for q in queues) for worker, queues in sorted(answers.items())}


def attention(state: PipelineState, products: Products, workers: dict[str, list[str]] | None,
              periodic_seconds: int, now: float) -> list[str]:
    """What an operator should look at, one line each (empty: all is well)."""
    out = []
    if state.dead_letters:
        out.append(f"{state.dead_letters} dead letter(s): tracker dead-letters list")
    if workers is not None:
        idle = sorted(set(products.queues) - {q for qs in workers.values() for q in qs})
        if idle:
            out.append(f"no worker consumes queue(s) {', '.join(idle)}: their events wait "
                       "(celery -A tasks worker -Q <queue>)")
    if not state.periodic_runs:
        out.append("Celery beat has never run on this Redis: periods do not close "
                   "(run exactly one: celery -A tasks beat)")
    for task, at in state.periodic_runs.items():
        if now - at > STALE_RUNS * periodic_seconds:
            out.append(f"{task} last ran {now - at:.0f} s ago: is Celery beat running?")
    for product, hooks in state.reward_hooks.items():
        if hooks.pending:
            out.append(f"{product}: {hooks.pending} period result(s) wait for a reward hook "
                       "that failed or still runs (see the workers' logs)")
    return out


def manual_seasons(store: Store, products: Products) -> dict[str, list[Season]]:
    """The seasons of every board whose seasons are set at run time, by product/board."""
    calendar = SeasonCalendar(store.client, store.keys)
    found: dict[str, list[Season]] = {}
    for pid, product in sorted(products.items()):
        if product.manual_boards:
            _, calendars = calendar.read(pid, product.manual_boards)
            found.update((f"{pid}/{board}", list(seasons))
                         for board, seasons in calendars.items())
    return found


def _seasons_line(name: str, seasons: Sequence[Season], now_ms: int) -> str:
    """Which season of a board runs now, and which is next."""
    running = next((x for x in seasons if x.start_ms <= now_ms < x.end_ms), None)
    due = next((x for x in seasons if x.start_ms > now_ms), None)
    now = (f"{running.id} until {utc_text(running.end_ms, seconds=False)}" if running
           else "none running")
    return f"{name}: {now}" + (f"; next {due.id} at {utc_text(due.start_ms, seconds=False)}"
                               if due else "")


def render(state: PipelineState, workers: dict[str, list[str]] | None, notes: Sequence[str],
           stream_key: str, now: float, seasons: dict[str, list[Season]] | None = None) -> str:
    s = state.stream
    unread = "no consumer group yet" if s.lag is None else f"{s.lag:,} unread"
    lines = [f"stream        {stream_key}: {s.length:,} entries, {unread}, "
             f"{s.in_flight:,} in flight",
             f"dead letters  {state.dead_letters:,}",
             f"{'product':<14}{'applied':>12}{'duplicates':>12}{'late':>8}{'refused':>9}"]
    lines += [f"  {pid:<12}{t.applied:>12,}{t.duplicates:>12,}{t.late:>8,}{t.refused:>9,}"
              for pid, t in state.products.items()]
    if workers is not None:
        lines.append("workers       " + ("; ".join(f"{w} ({', '.join(q)})"
                                                  for w, q in workers.items()) or "none answer"))
    runs = "; ".join(f"{task} {now - at:.0f} s ago" for task, at in state.periodic_runs.items())
    lines.append(f"beat          {runs or 'never ran'}")
    for product, hooks in state.reward_hooks.items():
        unread_results = "?" if hooks.unread is None else f"{hooks.unread:,}"
        lines.append(f"reward hooks  {product}: {hooks.pending:,} pending, "
                     f"{unread_results} unread")
    for product, changed in state.timelines_changed.items():
        lines.append(f"courses       {product}: {changed:,} timeline(s) to analyse")
    for name, calendar in (seasons or {}).items():  # set at run time: tracker season
        lines.append("seasons       " + _seasons_line(name, calendar, int(now * 1000)))
    lines.append("attention     " + ("none" if not notes else notes[0]))
    lines += [f"              {note}" for note in notes[1:]]
    return "\n".join(lines)


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
@click.option("--workers/--no-workers", default=True, show_default=True,
              help="Ask the Celery workers, through the broker, which queues they consume.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="Seconds to wait for the workers' answers.")
@click.option("--strict", is_flag=True, help="Exit with code 1 when anything needs attention.")
def status_command(as_json: bool, workers: bool, timeout: float, strict: bool) -> None:
    """The pipeline at a glance: stream, dead letters, products, workers, beat, hooks."""
    settings = Settings.from_env()
    products = configured_products(settings)
    with redis_errors():
        store = Store(data_client(settings.redis_url, socket_timeout=10),
                      Keys(settings.key_prefix))
        stream = redis.Redis.from_url(settings.stream_url, socket_timeout=10)
        state = read_state(store, products, InFlight.of(stream, settings))
        seasons = manual_seasons(store, products)
    found = consumed_queues(settings, products, timeout) if workers else None
    now = time.time()
    notes = attention(state, products, found, settings.periodic_seconds, now)
    if as_json:
        click.echo(json.dumps({**dataclasses.asdict(state), "workers": found,
                               "seasons": {name: [dataclasses.asdict(x) for x in calendar]
                                           for name, calendar in seasons.items()},
                               "attention": notes}, indent=2))
    else:
        click.echo(render(state, found, notes, settings.stream_key, now, seasons))
    if strict and notes:
        raise SystemExit(1)
