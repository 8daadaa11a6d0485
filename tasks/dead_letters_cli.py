"""``tracker dead-letters``: list, show, replay and purge rejected stream entries.

Reads ``TRACKER_REDIS_URL`` (where the dead-letter stream lives) and, for
``replay``, the *current* product configuration (``TRACKER_PRODUCTS_FILE``):
fix the configuration first (add the product, fix the handler), then replay.
A replayed entry keeps its source stream and entry ID, so its dedupe record
still protects it: replaying never counts an event twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

import click
import redis

from tracker.commands import configured_products, redis_errors
from tracker.processing import BatchProcessor
from tracker.settings import Settings
from tracker.storage import DeadLetter, DeadLetters, Keys, Store
from tracker.storage.connect import data_client

DETAIL_WIDTH = 70
RESOLVED = ("applied", "already_applied", "ignored")  # replay outcomes that remove the letter


def _store() -> tuple[Settings, redis.Redis, DeadLetters]:
    settings = Settings.from_env()
    client = data_client(settings.redis_url, socket_timeout=30)
    return settings, client, DeadLetters(client, Keys(settings.key_prefix))


def _matching(letters: DeadLetters, reasons: Sequence[str], product: str | None,
              ids: Sequence[str] = ()) -> Iterator[DeadLetter]:
    for letter in letters.scan():
        if reasons and letter.reason not in reasons:
            continue
        if product is not None and letter.product_id != product:
            continue
        if ids and letter.id not in ids:
            continue
        yield letter


def _printable(value: bytes) -> str:
    """The value as text, or as a bytes literal if it is not printable UTF-8."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return f"{value!r}  (not UTF-8)"
    return text if text.isprintable() else repr(text)


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


reason_option = click.option("--reason", "reasons", multiple=True, metavar="REASON",
                             help="Only letters with this reason (repeatable).")
product_option = click.option("--product", default=None, help="Only letters of this product.")


@click.group("dead-letters")
def dead_letters_command() -> None:
    """Read, replay and purge the dead letter: stream entries that were rejected.

    Reasons: not_utf8, bad_entry_id, missing_type, unknown_type,
    unknown_event_name, invalid_fields, unknown_product, unknown_board,
    duplicate_result, handler_error, batch_error.
    """


@dead_letters_command.command("list")
@reason_option
@product_option
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True,
              help="Show at most this many (0: all).")
def list_command(reasons: tuple[str, ...], product: str | None, limit: int) -> None:
    """List dead letters, oldest first: ID, reason, product, source entry and detail."""
    with redis_errors():
        _list(reasons, product, limit)


def _list(reasons: tuple[str, ...], product: str | None, limit: int) -> None:
    _, _, letters = _store()
    matching = list(_matching(letters, reasons, product))
    shown = matching if not limit else matching[:limit]
    for d in shown:
        click.echo(f"{d.id}  {d.reason:<18}  {_short(d.product_id, 16):<16}  "
                   f"{d.source}/{d.entry_id}  {_short(d.detail, DETAIL_WIDTH)}")
    by_reason = Counter(d.reason for d in matching)
    summary = ", ".join(f"{reason} {n}" for reason, n in sorted(by_reason.items()))
    click.echo(f"{len(shown)} of {len(matching)} matching dead letters shown"
               f"{f' ({summary})' if summary else ''}; {letters.count()} in total.")


@dead_letters_command.command("show")
@click.argument("letter_id")
def show_command(letter_id: str) -> None:
    """Show one dead letter (by its ID from `list`) with every original field."""
    _, _, letters = _store()
    try:
        letter = letters.get(letter_id)
    except redis.ResponseError as exc:
        raise click.ClickException(f"{letter_id!r} is not a dead-letter ID ({exc})") from exc
    except redis.RedisError as exc:
        raise click.ClickException(f"Redis: {exc}") from exc
    if letter is None:
        raise click.ClickException(f"no dead letter {letter_id}")
    click.echo(f"dead letter {letter.id}")
    for name, text in (("reason", letter.reason), ("detail", letter.detail),
                       ("product", letter.product_id), ("source", letter.source),
                       ("entry id", letter.entry_id)):
        click.echo(f"  {name:<9} {text}")
    click.echo("  original fields:")
    width = max((len(_printable(k)) for k in letter.fields), default=0)
    for key, value in letter.fields.items():
        click.echo(f"    {_printable(key):<{width}}  {_printable(value)}")


@dead_letters_command.command("replay")
@reason_option
@product_option
@click.option("--id", "ids", multiple=True, metavar="ID", help="Only this letter (repeatable).")
@click.option("--limit", type=click.IntRange(min=0), default=0, show_default=True,
              help="Replay at most this many (0: all).")
def replay_command(reasons: tuple[str, ...], product: str | None, ids: tuple[str, ...],
                   limit: int) -> None:
    """Process dead letters again with the current product configuration.

    Each entry is processed under its original source and entry ID. A letter
    whose entry is now applied, ignored or was applied already is deleted; a
    letter whose entry is rejected again stays (the new reason is reported).
    """
    settings, client, letters = _store()
    products = configured_products(settings)
    processor = BatchProcessor(products, Store(client, letters.keys, settings.dedupe_ttl),
                               letters)
    todo = list(_matching(letters, reasons, product, ids))
    if limit:
        todo = todo[:limit]
    outcomes: Counter[str] = Counter()
    with click.progressbar(todo, label=f"replaying {len(todo)} dead letters",
                           show_pos=True, show_eta=True) as bar:
        for letter in bar:
            outcomes[processor.replay(letter)] += 1
    resolved = sum(outcomes[o] for o in RESOLVED)
    parts = [f"{outcomes[o]} {o.replace('_', ' ')}" for o in RESOLVED if outcomes[o]]
    again = {r: n for r, n in outcomes.items() if r not in RESOLVED}
    if again:
        parts.append("still rejected: " + ", ".join(f"{r} {n}" for r, n in sorted(again.items())))
    click.echo(f"replayed {len(todo)}: {'; '.join(parts) or 'nothing to do'}; "
               f"{resolved} dead letters removed, {len(todo) - resolved} kept.")


@dead_letters_command.command("purge")
@reason_option
@product_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def purge_command(reasons: tuple[str, ...], product: str | None, yes: bool) -> None:
    """Delete dead letters (all, or those matching the filters) for good."""
    with redis_errors():
        _purge(reasons, product, yes)


def _purge(reasons: tuple[str, ...], product: str | None, yes: bool) -> None:
    _, _, letters = _store()
    doomed = list(_matching(letters, reasons, product))
    if not doomed:
        click.echo("no matching dead letters.")
        return
    what = " and ".join(filter(None, [
        f"reason {' or '.join(reasons)}" if reasons else "",
        f"product {product}" if product is not None else ""])) or "all of them"
    if not yes:
        click.confirm(f"Delete {len(doomed)} dead letters ({what})?", abort=True)
    deleted = sum(letters.remove(doomed[i:i + 500]) for i in range(0, len(doomed), 500))
    click.echo(f"deleted {deleted} dead letters.")
