"""A batch's increments are summed before they are written: the result must be the
same as applying its events one by one, tie structures and Elo included."""

from __future__ import annotations

import pytest
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


prepared_events = st.lists(
    st.builds(PreparedEvent, st.integers(0, 30).map(lambda n: f"1700000000000-{n}"),
              st.sampled_from(["", "", "g1", "g2", "g3"]), st.lists(op, min_size=1, max_size=6)),
    min_size=1, max_size=25)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=prepared_events, batch=prepared_events)
def test_the_summed_form_equals_the_events_form(
        store: Store, data: redis.Redis, before: list[PreparedEvent],
        batch: list[PreparedEvent]) -> None:
    """Whatever was applied before (so some entries or results are duplicates), whatever
    repeats within the batch: the summed form, or its refusal, ends where events do."""
    data.flushdb()
    for product, summed in (("summed", True), ("events", False)):
        store.apply(product, "s", before, summed=summed)
    results = [store.apply(product, "s", batch, summed=summed)
               for product, summed in (("summed", True), ("events", False))]
    assert results[0] == results[1]
    assert {k.replace(b"{summed}", b"{x}"): v for k, v in state(data, "summed").items()} \
        == {k.replace(b"{events}", b"{x}"): v for k, v in state(data, "events").items()}
    assert sorted(data.smembers("st:{summed}:seen:s:472222")) == \
        sorted(data.smembers("st:{events}:seen:s:472222"))


def test_a_fresh_batch_takes_the_summed_form(store: Store, data: redis.Redis) -> None:
    batch = [PreparedEvent(f"1700000000000-{i}", f"g{i}", [IncrScore("wins", "a", 1.0),
                                                          IncrStat("a", "games", 1)])
             for i in range(3)]
    data.config_resetstat()
    assert store.apply("p", "s", batch).applied == 3
    stats = data.info("commandstats")
    # one SADD for the marks and one for the results; event by event, one per result
    assert stats["cmdstat_sadd"]["calls"] == 2 and stats["cmdstat_zincrby"]["calls"] == 1
    assert store.apply("p", "s", batch).duplicates == 3  # refused whole, then event by event


@pytest.mark.parametrize("summed", [True, False])
def test_a_batch_whose_write_fails_is_not_marked_applied(store: Store, data: redis.Redis,
                                                         summed: bool) -> None:
    """A key of the wrong type fails the script part-way: its entries and match must not
    count as applied, so that the worker retries them, then dead-letters them."""
    data.set("st:{p}:lb:wins", "not a board")
    batch = [PreparedEvent("1700000000000-1", "g1",
                           [IncrStat("a", "games", 1), IncrScore("wins", "a", 1.0)])]
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        store.apply("p", "s", batch, summed=summed)
    assert data.keys("st:{p}:seen:*") == [] and not data.exists("st:{p}:results")
