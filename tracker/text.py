"""Text the code shares: Redis replies as text (a client made without ``decode_responses``
answers bytes), and moments as the commands read and print them."""

from __future__ import annotations

from datetime import UTC, datetime


def as_text(value: bytes | str) -> str:
    """``value`` as a str, decoding UTF-8 bytes."""
    return value.decode() if isinstance(value, bytes) else value


def utc_text(ms: int, *, seconds: bool = True) -> str:
    """The instant ``ms`` (Unix milliseconds) as the commands print it: ``2026-12-01
    10:31:05 UTC``, or to the minute."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime(
        "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def moment_ms(text: str) -> int | None:
    """A date-time as the commands read one (``2026-12-04T18:00``, UTC unless it says its
    offset) in Unix ms; None when ``text`` is no date-time."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
