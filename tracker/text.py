"""Redis replies as text: a client made without ``decode_responses`` answers bytes."""

from __future__ import annotations


def as_text(value: bytes | str) -> str:
    """``value`` as a str, decoding UTF-8 bytes."""
    return value.decode() if isinstance(value, bytes) else value
