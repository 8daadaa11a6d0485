"""An edX-style per-user block state store on Redis, with history.

:class:`UserStateClient` fulfils the ``XBlockUserStateClient`` contract of
edx-user-state-client (``get``/``set``/``delete``, their ``_many`` forms,
``get_history``, ``iter_all_for_block``, ``iter_all_for_course``) and does what
edX's Django client does not:

* every write of a block (its merge, its history entry, the trim of its
  history, the iteration indexes) is one atomic script, so concurrent writers
  lose no field and a batch of one course applies whole or not at all;
* history is bounded (``history_limit`` entries per user and block, trimmed in
  the same script, the trims counted) and every write keeps its own entry, a
  full snapshot, newest first, times strictly decreasing;
* the iterators page through indexes by key, never ``SCAN``: each live (user,
  block) once;
* a block never written and a deleted one both read as absent, but the store
  tells them apart (:meth:`UserStateClient.was_deleted`).

Values are stored as JSON, so ``1``, ``"1"`` and ``null`` stay distinct.
``set`` of an empty state on a block without state stores nothing. Only the
``user_state`` scope is stored; other scopes raise ``ValueError``.
"""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from typing import Any, NamedTuple

import redis
from prometheus_client import Counter, Histogram

from tracker.userstate import keys as k

USER_STATE = "user_state"
DEFAULT_HISTORY = 100
PAGE = 500  # index entries read per round trip by the iterators

REQUESTS = Counter("user_state_requests", "User-state store calls", ["op", "outcome"])
DURATION = Histogram("user_state_request_duration_seconds", "Time the store takes per call",
                     ["op"])
TRIMMED = Counter("user_state_history_entries_trimmed",
                  "History entries dropped by the retention count")
METRICS = (REQUESTS, DURATION, TRIMMED)


class XBlockUserState(NamedTuple):
    username: str
    block_key: Any
    state: dict[str, Any] | None
    updated: datetime
    scope: Any


def _scope(scope: Any) -> Any:
    name = getattr(scope, "name", scope)
    if name != USER_STATE:
        raise ValueError(f"only the user_state scope is stored here, not {name!r}")
    return scope


def _when(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 1_000_000, UTC).replace(
        microsecond=micros % 1_000_000)


def _state(flat: Mapping[bytes, bytes], fields: Iterable[str] | None) -> dict[str, Any] | None:
    """A state hash as a dict (None when deleted or never written)."""
    if b"m:t" not in flat or b"m:d" in flat:
        return None
    state = {name[2:].decode(): json.loads(value) for name, value in flat.items()
             if name.startswith(b"f:")}
    if fields is not None:
        wanted = set(fields)
        state = {name: v for name, v in state.items() if name in wanted}
    return state


class UserStateClient:
    """The store. ``history_limit``: entries kept per (user, block)."""

    class ServiceUnavailable(Exception):
        """Redis cannot be reached."""

    class PermissionDenied(Exception):
        """The caller may not access this data."""

    class DoesNotExist(Exception):
        """No state, or no history, for what was asked."""

    def __init__(self, client: redis.Redis, prefix: str = "us",
                 history_limit: int = DEFAULT_HISTORY):
        if history_limit < 1:
            raise ValueError("history_limit is at least 1")
        self.client = client
        self.prefix = prefix
        self.history_limit = history_limit
        scripts = resources.files("tracker.userstate")
        self._write = client.register_script(scripts.joinpath("write.lua").read_text())
        self._forget = client.register_script(scripts.joinpath("forget.lua").read_text())

    # --- the contract ------------------------------------------------------------

    def get(self, username: str, block_key: Any, scope: Any = USER_STATE,
            fields: Iterable[str] | None = None) -> XBlockUserState:
        for found in self.get_many(username, [block_key], scope, fields):
            return found
        raise self.DoesNotExist(f"no state of {username!r} in {block_key}")

    def set(self, username: str, block_key: Any, state: Mapping[str, Any],
            scope: Any = USER_STATE) -> None:
        self.set_many(username, {block_key: state}, scope)

    def delete(self, username: str, block_key: Any, scope: Any = USER_STATE,
               fields: Iterable[str] | None = None) -> None:
        self.delete_many(username, [block_key], scope, fields)

    def get_many(self, username: str, block_keys: Iterable[Any], scope: Any = USER_STATE,
                 fields: Iterable[str] | None = None) -> Iterator[XBlockUserState]:
        """The state of each block that has one, in the order asked."""
        _scope(scope)
        wanted = None if fields is None else list(fields)
        blocks = list(block_keys)
        with self._call("get_many"):
            refs = [k.block_ref(b) for b in blocks]
            pipe = self.client.pipeline(transaction=False)
            for ref in refs:
                pipe.hgetall(k.state_key(self.prefix, ref, username))
            replies = pipe.execute()
        for block, flat in zip(blocks, replies, strict=True):
            state = _state(flat, wanted)
            if state is not None:
                yield XBlockUserState(username, block, state, _when(int(flat[b"m:t"])), scope)

    def set_many(self, username: str, block_keys_to_state: Mapping[Any, Mapping[str, Any]],
                 scope: Any = USER_STATE, *, retry_key: str | None = None) -> None:
        """Merge each state over the stored one (fields not given keep their values).

        ``retry_key`` (beyond the contract): the same key again within a day marks a
        retry of a call that was applied, which then changes nothing (no second
        history entry)."""
        _scope(scope)
        by_course: dict[str, list[list[Any]]] = {}  # course -> each block's arguments
        with self._call("set_many"):
            for block, state in block_keys_to_state.items():
                ref = k.block_ref(block)
                args = [ref.key, ref.block_type, len(state)]
                by_course.setdefault(ref.course, []).append(args)
                for name, value in state.items():
                    if not isinstance(name, str):
                        raise TypeError(f"field names are strings: {name!r}")
                    args += [name, json.dumps(value, separators=(",", ":"))]
            self._run("set", username, by_course, retry_key)

    def delete_many(self, username: str, block_keys: Iterable[Any], scope: Any = USER_STATE,
                    fields: Iterable[str] | None = None, *,
                    retry_key: str | None = None) -> None:
        """Remove the listed fields of each block (all of them when ``fields`` is None);
        a block left without fields is deleted. ``retry_key``: as for :meth:`set_many`."""
        _scope(scope)
        names = None if fields is None else list(fields)
        by_course: dict[str, list[list[Any]]] = {}
        with self._call("delete_many"):
            for block in block_keys:
                ref = k.block_ref(block)
                by_course.setdefault(ref.course, []).append(
                    [ref.key, ref.block_type, *([-1] if names is None else [len(names), *names])])
            self._run("delete", username, by_course, retry_key)

    def get_history(self, username: str, block_key: Any, scope: Any = USER_STATE,
                    limit: int | None = None) -> Iterator[XBlockUserState]:
        """Every kept write of the block, newest first; a deletion has ``state=None``."""
        _scope(scope)
        with self._call("get_history"):
            ref = k.block_ref(block_key)
            raw = self.client.lrange(k.history_key(self.prefix, ref, username), 0,
                                     -1 if limit is None else limit - 1)
        if not raw:
            raise self.DoesNotExist(f"no history of {username!r} in {block_key}")
        return (XBlockUserState(username, block_key, state, _when(t), scope)
                for t, state in map(json.loads, raw))

    def iter_all_for_block(self, block_key: Any,
                           scope: Any = USER_STATE) -> Iterator[XBlockUserState]:
        """The current state of every user of the block (no order)."""
        _scope(scope)
        ref = k.block_ref(block_key)
        for users in self._pages(k.block_index(self.prefix, ref), "", "iter_block"):
            yield from self._states([(u, ref, block_key) for u in users], scope)

    def iter_all_for_course(self, course_key: Any, block_type: str | None = None,
                            scope: Any = USER_STATE) -> Iterator[XBlockUserState]:
        """The current state of every (user, block) of the course, optionally of one
        block type only (no order). Block keys come as strings."""
        _scope(scope)
        course = k.course_text(course_key)
        start = "" if block_type is None else f"{block_type}\0"
        for members in self._pages(k.course_index(self.prefix, course), start, "iter_course"):
            rows = []
            for member in members:
                kind, block, user = member.split("\0", 2)
                rows.append((user, k.BlockRef(block, course, kind), block))
            yield from self._states(rows, scope)

    # --- beyond the contract --------------------------------------------------------

    def was_deleted(self, username: str, block_key: Any) -> bool:
        """True if the block had state that was deleted (not: never written)."""
        flat = self.client.hgetall(k.state_key(self.prefix, k.block_ref(block_key), username))
        return b"m:d" in flat

    def blocks_of(self, usernames: Collection[str],
                  advance: Callable[[int], object] | None = None
                  ) -> dict[str, dict[str, builtins.set[str]]]:  # set: a method here
        """Every block each of ``usernames`` has state or history of, deleted blocks
        included, by course: ``{username: {course: {block}}}``. One ``SCAN`` of the whole
        database (the store keeps no index by user, and erasure is rare); ``advance(n)``
        is told of every n keys scanned."""
        found: dict[str, dict[str, builtins.set[str]]] = {u: {} for u in usernames}
        scanned = 0
        for key in self.client.scan_iter(count=1000):
            owner = k.user_key_owner(self.prefix, key)
            if owner is not None and owner[2] in found:
                found[owner[2]].setdefault(owner[0], set()).add(owner[1])
            scanned += 1
            if advance is not None and scanned == 1000:
                advance(scanned)
                scanned = 0
        if advance is not None and scanned:
            advance(scanned)
        return found

    def forget(self, username: str, blocks: Mapping[str, Iterable[str]]) -> int:
        """Erase the user's state and history of ``blocks`` (by course, as
        :meth:`blocks_of` finds them) and their places in the iterators: each course in
        one script. Keys deleted. A write of the user meanwhile may bring a block back,
        so stop the user's traffic first."""
        user = username.encode()
        deleted = 0
        for course, names in blocks.items():
            with self._call("forget"):
                # the course index's members name the block type too: find the user's
                members = [m for m, _ in self.client.zscan_iter(
                    k.course_index(self.prefix, course), match=b"*\0" + k.glob_escape(user),
                    count=1000) if m.split(b"\0", 2)[-1] == user]
                ordered = sorted(names)
                deleted += int(self._forget(keys=[k.course_prefix(self.prefix, course)],
                                            args=[username, len(ordered), *ordered, *members]))
        return deleted

    # --- helpers ----------------------------------------------------------------------

    def _run(self, op: str, username: str, by_course: Mapping[str, list[list[Any]]],
             retry_key: str | None) -> None:
        """One script per course, given each block's arguments."""
        if "\0" in username or not username:
            raise ValueError("a username is non-empty and holds no NUL")
        for course, blocks in by_course.items():
            reply: Any = self._write(keys=[k.course_prefix(self.prefix, course)],
                                     args=[op, username, self.history_limit, retry_key or "",
                                           len(blocks), *(a for b in blocks for a in b)])
            if int(reply[3]):
                TRIMMED.inc(int(reply[3]))

    def _pages(self, index: str, prefix: str, op: str) -> Iterator[list[str]]:
        """Members of a lexically ordered index starting with ``prefix``, page by page
        (keyset: each member once, even while others are added or removed)."""
        low = f"[{prefix}" if prefix else "-"
        high = f"({prefix[:-1]}\1" if prefix else "+"
        while True:
            with self._call(op):
                page: Any = self.client.zrange(index, low, high, bylex=True, offset=0,
                                               num=PAGE)
            if not page:
                return
            members = [m.decode() for m in page]
            yield members
            if len(page) < PAGE:
                return
            low = "(" + members[-1]

    def _states(self, rows: Sequence[tuple[str, k.BlockRef, Any]],
                scope: Any) -> Iterator[XBlockUserState]:
        pipe = self.client.pipeline(transaction=False)
        for user, ref, _ in rows:
            pipe.hgetall(k.state_key(self.prefix, ref, user))
        with self._call("iter_read"):
            replies = pipe.execute()
        for (user, _, block), flat in zip(rows, replies, strict=True):
            state = _state(flat, None)
            if state is not None:  # deleted since the index was read
                yield XBlockUserState(user, block, state, _when(int(flat[b"m:t"])), scope)

    @contextmanager
    def _call(self, op: str) -> Iterator[None]:
        """Counts and times one store call (not a caller's iteration); Redis failures
        become ServiceUnavailable."""
        start = time.perf_counter()
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            REQUESTS.labels(op, "unavailable").inc()
            raise self.ServiceUnavailable(str(exc)) from exc
        except Exception:
            REQUESTS.labels(op, "error").inc()
            raise
        else:
            REQUESTS.labels(op, "ok").inc()
        finally:
            DURATION.labels(op).observe(time.perf_counter() - start)
