"""Block keys and the Redis keys of the user-state store.

A block key is a usage key, as an object with ``course_key`` and ``block_type``
(edx-opaque-keys' ``UsageKey``) or as its string form
``block-v1:<org>+<course>+<run>+type@<type>+block@<id>``. Every Redis key of a
course carries the course as hash tag, so one script can update a user's
blocks of that course, their history and the iteration indexes atomically.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_USAGE = re.compile(r"^block-v1:([^+]+)\+([^+]+)\+([^+]+)\+type@([^+]+)\+block@(.+)\Z")
_COURSE = re.compile(r"^course-v1:([^+]+)\+([^+]+)\+([^+]+)\Z")


@dataclass(frozen=True, slots=True)
class BlockRef:
    """A block as stored: its key text, its course and its type."""

    key: str
    course: str
    block_type: str


def block_ref(block_key: Any) -> BlockRef:
    """The block a usage key names; ValueError for anything else."""
    course = getattr(block_key, "course_key", None)
    block_type = getattr(block_key, "block_type", None)
    if course is not None and block_type is not None:
        return BlockRef(str(block_key), str(course), str(block_type))
    m = _USAGE.match(str(block_key)) if isinstance(block_key, str) else None
    if m is None:
        raise ValueError(f"not a usage key: {block_key!r} (block-v1:org+course+run"
                         "+type@<type>+block@<id>, or a UsageKey)")
    org, number, run, kind, _ = m.groups()
    return BlockRef(block_key, f"course-v1:{org}+{number}+{run}", kind)


def course_text(course_key: Any) -> str:
    text = str(course_key)
    if "{" in text or "}" in text or not text:
        raise ValueError(f"not a course key: {course_key!r}")
    return text


def course_prefix(prefix: str, course: str) -> str:
    """The prefix of every key of one course (its hash tag is the course)."""
    return f"{prefix}:{{{course_text(course)}}}:"


def _b(block: str) -> str:
    return f"{len(block.encode())}:{block}"  # byte length first: a block key may hold ':'


def state_key(prefix: str, ref: BlockRef, username: str) -> str:
    return f"{course_prefix(prefix, ref.course)}s:{_b(ref.key)}:{username}"


def history_key(prefix: str, ref: BlockRef, username: str) -> str:
    return f"{course_prefix(prefix, ref.course)}h:{_b(ref.key)}:{username}"


def block_index(prefix: str, ref: BlockRef) -> str:
    return f"{course_prefix(prefix, ref.course)}ib:{_b(ref.key)}"


def course_index(prefix: str, course: str) -> str:
    return f"{course_prefix(prefix, course)}ic"


def user_key_owner(prefix: str, key: bytes) -> tuple[str, str, str] | None:
    """(course, block, username) of a user's state or history key (``s:``/``h:``), None
    for any other key. The block's byte length decides where the username starts, so a
    username or a block holding ``:`` is read right."""
    head = f"{prefix}:{{".encode()
    if not key.startswith(head):
        return None
    course, sep, rest = key[len(head):].partition(b"}:")
    if not sep or rest[:2] not in (b"s:", b"h:"):
        return None
    size, sep, rest = rest[2:].partition(b":")
    if not sep or not size.isdigit() or rest[int(size):int(size) + 1] != b":":
        return None
    block, user = rest[:int(size)], rest[int(size) + 1:]
    try:
        return course.decode(), block.decode(), user.decode()
    except UnicodeDecodeError:
        return None


def glob_escape(text: bytes) -> bytes:
    """``text`` as a literal in a Redis ``MATCH`` pattern."""
    return re.sub(rb"([*?\[\]\\])", rb"\\\1", text)
