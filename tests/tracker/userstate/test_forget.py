"""Erasing a user from the user-state store against a real Redis: every block's state,
deleted blocks' too, its history and the iterators' entries go; nothing of anyone
else changes, even users and blocks whose names hold the same text."""

from __future__ import annotations

import pytest
import redis

from tests.support.pipeline import everything
from tracker.userstate import UserStateClient
from tracker.userstate.keys import user_key_owner

C0, C1 = "course-v1:org0+course0+run0", "course-v1:org1+course1+run1"


def block(i: int | str, kind: str = "problem", course: int = 0) -> str:
    return f"block-v1:org{course}+course{course}+run{course}+type@{kind}+block@b{i}"


@pytest.fixture
def store(data: redis.Redis) -> UserStateClient:
    return UserStateClient(data, history_limit=5)


def fill(store: UserStateClient) -> None:
    """ann in two courses (a deleted block, a block id with ':'); others beside her, one
    named with ann's name at its end, one block id ending in ':ann'."""
    for user in ("ann", "bob", "x:ann", "ann*"):
        store.set(user, block(1), {"a": 1, "who": user})
        store.set(user, block(2, "html"), {"seen": True})
        store.set(user, block(1, course=1), {"b": [1, 2]})
    store.set("ann", block(1), {"a": 2})  # a second history entry
    store.set("ann", block("3:ann", "video"), {"pos": 12.5})
    store.delete("ann", block(2, "html"))  # a tombstone and its history
    store.set("bob", block("4:ann"), {"c": 0})


def others(state: dict[str, object]) -> dict[str, object]:
    """``state`` as it should be once ann is erased: her keys gone, her index entries too."""
    out: dict[str, object] = {}
    for key, value in state.items():
        owner = user_key_owner("us", key.encode())
        if owner is not None and owner[2] == "ann":
            continue
        if isinstance(value, dict) and (":ib:" in key or key.endswith(":ic")):
            value = {m: s for m, s in value.items()
                     if m != b"ann" and not m.endswith(b"\0ann")}
            if not value:
                continue
        out[key] = value
    return out


def test_a_forgotten_user_leaves_no_state_nor_history(store: UserStateClient,
                                                     data: redis.Redis) -> None:
    fill(store)
    before = everything(data)
    found = store.blocks_of(["ann", "nobody"])
    assert found == {"ann": {C0: {block(1), block(2, "html"), block("3:ann", "video")},
                             C1: {block(1, course=1)}},
                     "nobody": {}}
    # 3 live blocks and a deleted one, each a state hash and a history
    assert store.forget("ann", found["ann"]) == 8
    assert everything(data) == others(before)
    for b in (block(1), block(2, "html"), block("3:ann", "video"), block(1, course=1)):
        assert not list(store.get_many("ann", [b]))
        assert not store.was_deleted("ann", b)
        with pytest.raises(UserStateClient.DoesNotExist):
            list(store.get_history("ann", b))
    users = {s.username for c in (C0, C1) for s in store.iter_all_for_course(c)}
    assert users == {"bob", "x:ann", "ann*"}
    assert {s.username for s in store.iter_all_for_block(block(1))} == users
    assert store.get("bob", block("4:ann")).state == {"c": 0}
    # again: nothing is left to find
    assert store.blocks_of(["ann"]) == {"ann": {}}
    assert store.forget("ann", {C0: [block(1)]}) == 0
    store.set("ann", block(1), {"a": 3})  # a new write starts afresh
    assert [h.state for h in store.get_history("ann", block(1))] == [{"a": 3}]


def test_the_scan_reports_its_progress(store: UserStateClient, data: redis.Redis) -> None:
    for i in range(2500):
        store.set(f"u{i}", block(i % 7), {"n": i})
    steps: list[int] = []
    found = store.blocks_of(["u12"], steps.append)
    assert found == {"u12": {C0: {block(5)}}}
    assert sum(steps) == data.dbsize() and max(steps) == 1000


@pytest.mark.parametrize("key", [
    b"us:{c}:s:5:b@1:x:ann", b"us:{c}:h:5:b@1:x:ann",
])
def test_the_owner_of_a_key_is_read_by_the_block_s_length(key: bytes) -> None:
    assert user_key_owner("us", key) == ("c", "b@1:x", "ann")
    assert user_key_owner("us", key.replace(b":5:", b":3:")) == ("c", "b@1", "x:ann")


@pytest.mark.parametrize("key", [
    b"us:{c}:ib:5:b@1:x", b"us:{c}:ic", b"st:{c}:s:3:b@1:ann", b"us:{c}:s:9:b@1:ann",
    b"us:{c}:s:x:b@1:ann", b"us:{c:s:3:b@1:ann", b"us:{c}:s:4:b@1\xff:ann",
])
def test_other_keys_have_no_owner(key: bytes) -> None:
    assert user_key_owner("us", key) is None
