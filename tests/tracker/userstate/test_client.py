"""The user-state store against a real Redis: the XBlockUserStateClient contract, restated.

Each test names the rule it checks (reference/user-state-interface.md, section 3,
in our own words), plus what the edX conformance suite does not cover: several
courses in one call, concurrent writers, paging, bounded history, unicode and
nested values, an unreachable Redis.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tracker.userstate import UserStateClient

COURSE = "course-v1:org0+course0+run0"


def block(i: int, kind: str = "problem", course: int = 0) -> str:
    return f"block-v1:org{course}+course{course}+run{course}+type@{kind}+block@b{i}"


@pytest.fixture
def store(data: redis.Redis) -> UserStateClient:
    return UserStateClient(data, history_limit=5)


def test_set_then_get_merges_fields(store: UserStateClient) -> None:
    store.set("ann", block(1), {"a": 1, "b": "x"})
    store.set("ann", block(1), {"a": 2, "c": None})  # merge; None is a value, not a delete
    got = store.get("ann", block(1))
    assert got.state == {"a": 2, "b": "x", "c": None}
    assert (got.username, got.block_key, got.scope) == ("ann", block(1), "user_state")
    assert store.get("ann", block(1), fields=["a", "zzz"]).state == {"a": 2}


def test_values_keep_their_json_type(store: UserStateClient) -> None:
    value = {"n": 1, "s": "1", "f": 1.5, "t": True, "l": [1, {"é": "Ω"}], "o": {"k": [None]}}
    store.set("émile", block(1), value)
    assert store.get("émile", block(1)).state == value


def test_never_written_and_deleted_both_read_as_absent(store: UserStateClient) -> None:
    store.set("ann", block(1), {"a": 1})
    store.delete("ann", block(1))
    for b in (block(1), block(2)):
        with pytest.raises(UserStateClient.DoesNotExist):
            store.get("ann", b)
    assert list(store.get_many("ann", [block(1), block(2)])) == []
    assert store.was_deleted("ann", block(1)) and not store.was_deleted("ann", block(2))


def test_removing_the_last_field_deletes_the_block(store: UserStateClient) -> None:
    store.set("ann", block(1), {"a": 1, "b": 2})
    store.delete("ann", block(1), fields=["a"])
    assert store.get("ann", block(1)).state == {"b": 2}
    store.delete("ann", block(1), fields=["b"])
    with pytest.raises(UserStateClient.DoesNotExist):
        store.get("ann", block(1))
    assert [h.state for h in store.get_history("ann", block(1))] == [
        None, {"b": 2}, {"a": 1, "b": 2}]


def test_get_many_keeps_the_order_asked_and_skips_missing(store: UserStateClient) -> None:
    store.set_many("ann", {block(i): {"i": i} for i in (3, 1, 2)})
    asked = [block(2), block(9), block(1), block(3), block(1, course=1)]
    assert [(s.block_key, s.state) for s in store.get_many("ann", asked)] == [
        (block(2), {"i": 2}), (block(1), {"i": 1}), (block(3), {"i": 3})]


def test_history_is_full_snapshots_newest_first(store: UserStateClient) -> None:
    before = datetime.now(UTC)
    store.set("ann", block(1), {"a": 1})
    store.set("ann", block(1), {"b": 2})
    store.delete("ann", block(1), fields=["a"])
    store.delete("ann", block(1))
    store.set("ann", block(1), {"c": 3})
    after = datetime.now(UTC)
    history = list(store.get_history("ann", block(1)))
    assert [h.state for h in history] == [{"c": 3}, None, {"b": 2}, {"a": 1, "b": 2},
                                          {"a": 1}]
    times = [h.updated for h in history]
    assert times == sorted(times, reverse=True) and len(set(times)) == len(times)
    assert before < times[-1] and times[0] < after  # microseconds, the caller's clock
    assert store.get("ann", block(1)).updated == times[0]
    with pytest.raises(UserStateClient.DoesNotExist):
        store.get_history("ann", block(2))


def test_history_is_bounded_and_each_write_counts(store: UserStateClient,
                                                  data: redis.Redis) -> None:
    for i in range(8):
        store.set_many("ann", {block(1): {"i": i}, block(2): {"i": -i}})
    assert [h.state for h in store.get_history("ann", block(1))] == [
        {"i": i} for i in (7, 6, 5, 4, 3)]  # the five newest
    assert len(list(store.get_history("ann", block(2), limit=2))) == 2
    assert int(data.hget(f"us:{{{COURSE}}}:n", "history_trimmed")) == 6


def test_set_of_nothing_on_a_block_without_state_stores_nothing(
        store: UserStateClient) -> None:
    store.set("ann", block(1), {})
    with pytest.raises(UserStateClient.DoesNotExist):
        store.get("ann", block(1))
    with pytest.raises(UserStateClient.DoesNotExist):
        store.get_history("ann", block(1))


def test_iterators_yield_each_live_state_once(store: UserStateClient,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tracker.userstate.client.PAGE", 3)  # several pages
    users = [f"user{i}" for i in range(8)]
    for u in users:
        store.set_many(u, {block(1): {"u": u}, block(2, "video"): {"v": u},
                           block(1, course=1): {"o": u}})
    store.delete("user3", block(1))
    by_block = {(s.username, s.state["u"]) for s in store.iter_all_for_block(block(1))}
    assert by_block == {(u, u) for u in users if u != "user3"}
    course = list(store.iter_all_for_course(COURSE))
    assert len(course) == 15 and len({(s.username, s.block_key) for s in course}) == 15
    videos = list(store.iter_all_for_course(COURSE, block_type="video"))
    assert {s.block_key for s in videos} == {block(2, "video")} and len(videos) == 8
    assert list(store.iter_all_for_course(COURSE, block_type="vid")) == []


def test_concurrent_writers_lose_no_field(data: redis.Redis) -> None:
    def writer(n: int) -> None:
        client = UserStateClient(redis.Redis(connection_pool=data.connection_pool))
        for i in range(50):
            client.set("ann", block(1), {f"w{n}": i})

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store = UserStateClient(data)
    assert store.get("ann", block(1)).state == {f"w{n}": 49 for n in range(4)}
    assert len(list(store.get_history("ann", block(1)))) == 100  # the default bound


def test_bad_input_is_refused_before_anything_is_written(store: UserStateClient) -> None:
    with pytest.raises(ValueError, match="scope"):
        store.get("ann", block(1), scope="user_state_summary")
    with pytest.raises(ValueError, match="usage key"):
        store.set_many("ann", {block(1): {"a": 1}, "nope": {"a": 1}})
    with pytest.raises(UserStateClient.DoesNotExist):
        store.get("ann", block(1))
    with pytest.raises(TypeError):
        store.set("ann", block(1), {1: "x"})  # type: ignore[dict-item]


def test_an_unreachable_redis_is_service_unavailable() -> None:
    dead = UserStateClient(redis.Redis(port=1, socket_connect_timeout=0.2,
                                       retry=Retry(NoBackoff(), 0)))
    with pytest.raises(UserStateClient.ServiceUnavailable):
        dead.set("ann", block(1), {"a": 1})
    with pytest.raises(UserStateClient.ServiceUnavailable):
        list(dead.get_many("ann", [block(1)]))


def test_a_retried_call_writes_once(store: UserStateClient) -> None:
    writes = {block(1): {"a": 1}, block(1, course=1): {"b": 2}}  # two courses, two scripts
    store.set_many("ann", writes, retry_key="req-1")
    store.set("ann", block(1), {"a": 5})
    store.set_many("ann", writes, retry_key="req-1")  # the retry: no effect, no history
    assert store.get("ann", block(1)).state == {"a": 5}
    assert len(list(store.get_history("ann", block(1, course=1)))) == 1
    store.delete_many("ann", [block(1)], retry_key="req-2")
    store.set("ann", block(1), {"c": 3})
    store.delete_many("ann", [block(1)], retry_key="req-2")
    assert store.get("ann", block(1)).state == {"c": 3}
