"""``tracker check-config NEW_FILE``: whether a new product configuration is valid, and
what rolling it out takes (README, "Changing the configuration").

Every process reads the file once, as it starts, so a change reaches them one restart
at a time. This compares the new file with the one in use (``TRACKER_PRODUCTS_FILE``)
and says, for each difference, what to do about it: start a new queue's workers
first, fill a new board from the stream, replay what workers on the old file
dead-lettered, leave a season that has begun alone.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import click

from tracker.commands import configured_products
from tracker.handlers import Board, Handler
from tracker.periods import Period, PeriodKind, PeriodPolicy
from tracker.products import PERIODIC_KINDS, ConfigError, Product, Products, load_products
from tracker.settings import Settings
from tracker.text import utc_text


def _rebuild(product: Product, board: str, effect: str) -> str:
    """The rebuild-board step, saying what it does here."""
    return (f"`tracker rebuild-board {product.id} {board}`, with the workers of queue "
            f"{product.queue!r} stopped, {effect}")


@dataclass(frozen=True)
class Change:
    """One difference between the configuration in use and the new one."""

    subject: str  # "go", or "exrps/elo"
    what: str
    todo: tuple[str, ...] = ()  # what rolling it out takes
    warning: bool = False  # it cannot be rolled out without a loss of accuracy


def compare(old: Products, new: Products, now_ms: int) -> list[Change]:
    """What changes from ``old`` to ``new``, product by product, with what each takes."""
    changes: list[Change] = []
    for product_id in sorted(new.keys() - old.keys()):
        changes.append(_added(new[product_id], new_queue=new[product_id].queue
                              not in old.queues))
    for product_id in sorted(old.keys() - new.keys()):
        changes.append(Change(product_id, "removed", (
            "its events will be dead-lettered as unknown_product; its keys stay in Redis "
            "until deleted",)))
    for product_id in sorted(old.keys() & new.keys()):
        changes += _changed(old[product_id], new[product_id], old.queues, now_ms)
    return changes


def _added(product: Product, new_queue: bool) -> Change:
    boards = ", ".join(b.name for b in product.boards) or "none"
    todo = []
    if new_queue:
        todo.append(f"start the workers of queue {product.queue!r} with the new file before "
                    "restarting the bridges")
    todo.append("events a worker on the old file dead-letters meanwhile: `tracker "
                "dead-letters replay --reason unknown_product` once every worker has the "
                "new file")
    for board in _ordered(product.boards):
        todo.append(f"{board.name} depends on the order of the games: after that replay, "
                    + _rebuild(product, board.name, "rates every game again in stream order"))
    return Change(product.id, f"a new product (queue {product.queue!r}; boards {boards})",
                  tuple(todo))


def _changed(old: Product, new: Product, old_queues: Iterable[str],
             now_ms: int) -> list[Change]:
    changes: list[Change] = []
    pid = new.id
    if old.queue != new.queue:
        todo = [f"start the workers of queue {new.queue!r} with the new file before "
                "restarting the bridges"] if new.queue not in old_queues else []
        if _ordered(new.boards):
            todo.append(f"let queue {old.queue!r} run empty before the bridges restart: "
                        "while both queues hold parts, games may be rated out of order")
        changes.append(Change(pid, f"queue {old.queue!r} -> {new.queue!r}", tuple(todo)))
    old_boards = {b.name: b for b in old.boards}
    new_boards = {b.name: b for b in new.boards}
    for name in sorted(new_boards.keys() - old_boards.keys()):
        changes.append(Change(f"{pid}/{name}", f"a new {new_boards[name].kind} board", (
            "it starts empty: " + _rebuild(new, name, "fills it from the stream"),)))
    for name in sorted(old_boards.keys() - new_boards.keys()):
        changes.append(Change(f"{pid}/{name}", "removed", (
            "no longer written nor served; its keys stay in Redis until deleted",)))
    old_writers, new_writers = _writers(old), _writers(new)
    for name in sorted(old_boards.keys() & new_boards.keys()):
        what = _differences(old_boards[name], new_boards[name]) + _settings(
            old_writers[name], new_writers[name])
        if what:
            changes.append(Change(f"{pid}/{name}", "; ".join(what), (
                "it applies to the events applied after the workers restart; "
                + _rebuild(new, name, "applies it to the events before"),)))
        changes += _season_changes(f"{pid}/{name}", old_boards[name].periods,
                                   new_boards[name].periods, now_ms)
    before = [_describe(h) for h in old.handlers if not h.boards]
    after = [_describe(h) for h in new.handlers if not h.boards]
    if before != after:
        changes.append(Change(pid, f"handlers without boards {_names(before)} -> "
                                   f"{_names(after)}", (
            "they apply to the events applied after the workers restart",)))
    if old.reward_webhook != new.reward_webhook:
        changes.append(Change(pid, f"reward_webhook {old.reward_webhook} -> "
                                   f"{new.reward_webhook}"))
    return changes


def _names(handlers: list[tuple[str, dict[str, Any]]]) -> str:
    return "[" + ", ".join(name for name, _ in handlers) + "]"


def _ordered(boards: Iterable[Board]) -> list[Board]:
    """The boards whose result depends on the order of the events (ratings, streaks)."""
    return [b for b in boards if b.kind not in PERIODIC_KINDS]


def _writers(product: Product) -> dict[str, Handler]:
    return {b.name: h for h in product.handlers for b in h.boards}


def _describe(handler: Handler) -> tuple[str, dict[str, Any]]:
    """A handler's class and its settings (public attributes, as configured)."""
    return handler.name or type(handler).__name__, {k: v for k, v in vars(handler).items()
                                     if not k.startswith("_")}


def _settings(old: Handler, new: Handler) -> list[str]:
    """How the handler writing a board changed: its class, or each setting."""
    (old_kind, before), (new_kind, after) = _describe(old), _describe(new)
    if old_kind != new_kind:
        return [f"handler {old_kind} -> {new_kind}"]
    return [f"{key} {before.get(key)!r} -> {after.get(key)!r}"
            for key in sorted(before.keys() | after.keys())
            if before.get(key) != after.get(key) and key not in BOARD_FIELDS]


# a board's own fields, compared by _differences (a handler's attribute of the same name
# would be said twice)
BOARD_FIELDS = frozenset(f.name for f in fields(Board)) | {"board"}


def _differences(old: Board, new: Board) -> list[str]:
    """The board's settings that change (its periods in one word: see the seasons)."""
    found = []
    for f in fields(Board):
        before, after = getattr(old, f.name), getattr(new, f.name)
        if before == after:
            continue
        if f.name == "periods":
            if before and after and before.manual != after.manual:
                found.append("seasons set at run time (tracker season)" if after.manual
                             else "seasons from the file, no longer set at run time")
                before = replace(before, manual=after.manual, seasons=after.seasons)
            if before and after and replace(before, seasons=after.seasons) == after:
                continue  # only the seasons: _season_changes says which
            found.append(f"periods {_kinds(before)} -> {_kinds(after)}"
                         if _kinds(before) != _kinds(after) else "period settings")
        else:
            found.append(f"{f.name} {_shown(before)} -> {_shown(after)}")
    return found


def _kinds(policy: PeriodPolicy | None) -> str:
    return "[" + ", ".join(k.value for k in policy.kinds) + "]" if policy else "none"


def _shown(value: Any) -> str:
    return value.value if hasattr(value, "value") else repr(value)


def _season_changes(subject: str, old: PeriodPolicy | None, new: PeriodPolicy | None,
                    now_ms: int) -> list[Change]:
    """Seasons added, moved or removed, with a warning for any that has begun (none of a
    calendar set at run time: the file has none to compare)."""
    if (old is not None and old.manual) or (new is not None and new.manual):
        return []
    before = _seasons(old)
    after = _seasons(new)
    changes = []
    for label, season in after.items():
        was = before.get(label)
        if was is not None and (was.start_ms, was.end_ms) == (season.start_ms, season.end_ms):
            continue
        begun = min(season.start_ms, was.start_ms if was else season.start_ms) <= now_ms
        what = (f"season {label} moved: {_span(was)} -> {_span(season)}" if was
                else f"a new season {label}: {_span(season)}")
        if begun:
            changes.append(Change(subject, what, (
                "it has begun: events of it applied before the workers restart stay where "
                "they went; `tracker rebuild-board` moves them",), warning=True))
        else:
            changes.append(Change(subject, what, (
                "let the rollout finish before it starts "
                f"({utc_text(season.start_ms, seconds=False)})",)))
    for label in before.keys() - after.keys():
        changes.append(Change(subject, f"season {label} removed", (
            "its board, if any, is no longer served and expires as kept periods do",)))
    return changes


def _seasons(policy: PeriodPolicy | None) -> Mapping[str, Period]:
    if policy is None or PeriodKind.SEASON not in policy.kinds:
        return {}
    return {season.id: season for season in policy.seasons}


def _span(season: Period | None) -> str:
    if season is None:
        return "none"
    return (f"{utc_text(season.start_ms, seconds=False)} to "
            f"{utc_text(season.end_ms, seconds=False)}")




@click.command("check-config")
@click.argument("new_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def check_config_command(new_file: Path) -> None:
    """Check NEW_FILE, a product configuration, before it is rolled out, and compare it
    with the one in use (TRACKER_PRODUCTS_FILE): what changes, and what each change
    takes (README, "Changing the configuration"). Exit code 1 when it is invalid."""
    try:
        new = load_products(new_file)
    except ConfigError as exc:
        raise click.ClickException(f"{new_file} is invalid: {exc}") from exc
    settings = Settings.from_env()
    click.echo(f"{new_file}: valid; {len(new)} product(s), queues {', '.join(new.queues)}")
    if Path(settings.products_path).resolve() == new_file.resolve():
        return
    old = configured_products(settings)
    changes = compare(old, new, int(time.time() * 1000))
    click.echo(f"against {settings.products_path} (in use): "
               + (f"{len(changes)} change(s)" if changes else "no change"))
    for change in changes:
        click.echo(f"{'!' if change.warning else '*'} {change.subject}: {change.what}")
        for step in change.todo:
            click.echo(f"    - {step}")
    if any(change.warning for change in changes):
        click.echo("! marks a change that events already applied cannot follow without "
                   "a rebuild", file=sys.stderr)
