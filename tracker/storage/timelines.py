"""Timelines: records kept in time order by :class:`~tracker.handlers.base.AddToTimeline`.

The batch script adds records and counts each timeline's changes in one hash.
Whatever derives figures from a timeline reads the counts, reads the timeline,
stores its figures, and then *settles* the count it started from: only if no
record came meanwhile is the timeline marked done. A reader that dies half-way
settles nothing, so the next one does the work again. Readers of one product
take turns (:meth:`Timelines.lock`), so an older reading never overwrites a newer.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from typing import Any

import redis

from tracker.storage.keys import Keys

# Removes a timeline's change count only if it is still the one the caller read.
SETTLE = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""
# The analysis lock, kept (ARGV[2] ms more) or released ("0") only by its holder.
HOLD = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""
PAGE = 5000  # records per read


class Timelines:
    def __init__(self, client: redis.Redis, keys: Keys | None = None) -> None:
        self.client = client
        self.keys = keys or Keys()
        self._settle = client.register_script(SETTLE)
        self._hold = client.register_script(HOLD)

    def changed(self, product_id: str) -> dict[str, int]:
        """Timelines with records not yet analysed, each with its change count."""
        raw: Any = self.client.hgetall(self.keys.timeline_changes(product_id))
        return {k.decode(): int(v) for k, v in raw.items()}

    def changed_count(self, product_id: str) -> int:
        """How many timelines have records not yet analysed."""
        return int(self.client.hlen(self.keys.timeline_changes(product_id)))

    def records(self, product_id: str, timeline: str) -> Iterator[bytes]:
        """The timeline's records, oldest first, read a page at a time. Records only
        ever join a timeline, so paging by index never skips one (a record added
        meanwhile may show a record twice, or not at all: its change count stays)."""
        key = self.keys.timeline(product_id, timeline)
        start = 0
        while True:
            page: Any = self.client.zrange(key, start, start + PAGE - 1)
            yield from page
            if len(page) < PAGE:
                return
            start += PAGE

    def settle(self, product_id: str, timeline: str, changes: int) -> bool:
        """Mark the timeline analysed, unless it changed since its count was ``changes``."""
        done = self._settle(keys=[self.keys.timeline_changes(product_id)],
                            args=[timeline, changes])
        return bool(done)

    def touch(self, product_id: str, timeline: str) -> None:
        """Ask for the timeline to be analysed again (its inputs changed, say a roster)."""
        self.client.hincrby(self.keys.timeline_changes(product_id), timeline, 1)

    def forget(self, product_id: str, timelines: Sequence[str]) -> int:
        """Delete the timelines and their change counts; how many timelines existed."""
        if not timelines:
            return 0
        pipe = self.client.pipeline(transaction=False)  # one slot: the product's
        for name in timelines:
            pipe.delete(self.keys.timeline(product_id, name))
        pipe.hdel(self.keys.timeline_changes(product_id), *timelines)
        return sum(pipe.execute()[:-1])

    def lock(self, product_id: str, for_ms: int) -> str | None:
        """Hold the product's analysis lock for ``for_ms``: one analysis at a time, so that
        an older one never stores its figures over a newer one's. Its token, or None
        while another holds it (a holder that dies frees it when it lapses)."""
        token = secrets.token_hex(8)
        taken = self.client.set(self.keys.analysis_lock(product_id), token, nx=True, px=for_ms)
        return token if taken else None

    def keep(self, product_id: str, token: str, for_ms: int) -> bool:
        """Hold the lock ``for_ms`` more; False if it lapsed and is not ours any more."""
        return bool(self._hold(keys=[self.keys.analysis_lock(product_id)], args=[token, for_ms]))

    def unlock(self, product_id: str, token: str) -> None:
        self._hold(keys=[self.keys.analysis_lock(product_id)], args=[token, 0])

    def schedule(self, product_id: str, for_ms: int) -> bool:
        """Claim the right to schedule the product's next analysis; False while one is
        scheduled already. The claim lapses after ``for_ms`` (a lost analysis)."""
        return bool(self.client.set(self.keys.analysis_due(product_id), 1, nx=True, px=for_ms))

    def unschedule(self, product_id: str) -> None:
        """The analysis starts: records added from now on schedule another one."""
        self.client.delete(self.keys.analysis_due(product_id))
