"""A batch's increments are summed before they are written: the result must be the
same as applying its events one by one, tie structures and Elo included."""

from __future__ import annotations

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.handlers import EloResult, EnsureOnBoard, IncrScore, IncrStat, Op
from tracker.storage import PreparedEvent, Store

PLAYERS = ["a", "b", "c", "d"]
BOARDS = ["wins", "elo"]  # increments and Elo may even share a board here
player = st.sampled_from(PLAYERS)
board = st.sampled_from(BOARDS)
delta = st.integers(-3, 5).map(float) | st.integers(-64, 64).map(lambda n: n / 65536)

op: st.SearchStrategy[Op] = st.one_of(
    st.builds(IncrScore, board, player, delta),
    st.builds(EnsureOnBoard, board, player, st.sampled_from([0.0, 1500.0])),
    st.builds(IncrStat, player, st.sampled_from(["games", "wins"]), st.integers(-2, 3)),
    st.tuples(board, player, player).filter(lambda t: t[1] != t[2]).map(
        lambda t: EloResult(t[0], t[1], t[2], 32.0, 1500.0)),
)
batches = st.lists(st.lists(op, max_size=6), min_size=1, max_size=25)


def state(client: redis.Redis, product: str) -> dict[bytes, object]:
    """Every key of the product, as comparable values."""
    out: dict[bytes, object] = {}
    for key in client.scan_iter(match=f"st:{{{product}}}:*"):
        kind = client.type(key)
        if kind == b"zset":
            out[key] = sorted(client.zrange(key, 0, -1, withscores=True))
        elif kind == b"hash":
            out[key] = client.hgetall(key)
        elif b":seen:" not in key:
            out[key] = sorted(client.smembers(key))
    return out


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # flushed per example
@given(events=batches)
def test_one_batch_equals_one_event_at_a_time(
        store: Store, data: redis.Redis, events: list[list[Op]]) -> None:
    data.flushdb()
    prepared = [PreparedEvent(f"1700000000000-{i}", "", ops) for i, ops in enumerate(events)]
    store.apply("whole", "s", prepared)
    for event in prepared:
        store.apply("single", "s", [event])
    whole = {k.replace(b"{whole}", b"{x}"): v for k, v in state(data, "whole").items()}
    single = {k.replace(b"{single}", b"{x}"): v for k, v in state(data, "single").items()}
    assert whole == single
