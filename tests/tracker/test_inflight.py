"""The parts in flight, against a real Redis: a claim reads and records atomically, parts
keep every byte, finishing is idempotent, and parts that are due come back once."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from tracker.events import TextFields
from tracker.processing import group_by_product
from tracker.settings import Settings
from tracker.storage.inflight import (
    Entry,
    InFlight,
    Part,
    pack_entries,
    split_by_product,
    unpack_entries,
)

IDLE = 60_000


@pytest.fixture
def flight(settings: Settings, stream: redis.Redis) -> InFlight:
    stream.xgroup_create(settings.stream_key, settings.stream_group, id="0", mkstream=True)
    return InFlight(stream, settings.stream_key, settings.stream_group)


def add(stream: redis.Redis, key: str, rows: list[dict[str, str | bytes]]) -> list[str]:
    return [stream.xadd(key, row).decode() for row in rows]  # type: ignore[union-attr]


def group_position(stream: redis.Redis, settings: Settings) -> str:
    [group] = stream.xinfo_groups(settings.stream_key)
    return str(group["last-delivered-id"].decode())


def test_a_claim_splits_entries_by_product_in_stream_order(
        flight: InFlight, stream: redis.Redis, settings: Settings) -> None:
    products = ["exrps", "pong", "exrps", "exrps", "pong", "exrps", "chess"]
    ids = add(stream, settings.stream_key, [{"product_id": p, "n": str(i)}
                                            for i, p in enumerate(products)])
    claim = flight.claim("c1", count=100, part_size=3, max_in_flight=1000, idle_ms=IDLE)

    assert claim.status == "ok" and claim.read == 7 and claim.last_id == ids[-1]
    # parts of at most 3, each named by its first entry, in the order they started
    assert [(str(p), n) for p, n in claim.parts] == [
        (f"{ids[0]}/0/exrps", 3), (f"{ids[1]}/0/pong", 2), (f"{ids[5]}/0/exrps", 1),
        (f"{ids[6]}/0/chess", 1)]
    first = flight.entries(claim.parts[0][0])
    assert first == [(ids[i], {"product_id": "exrps", "n": str(i)}) for i in (0, 2, 3)]
    assert first is not None and all(type(f) is TextFields for _, f in first)  # decoded once
    assert flight.count() == 7
    assert group_position(stream, settings) == ids[-1]
    assert stream.xpending(settings.stream_key, settings.stream_group)["pending"] == 0


def test_entries_keep_every_byte_and_odd_product_ids_group_apart(
        flight: InFlight, stream: redis.Redis, settings: Settings) -> None:
    odd = [{"product_id": "bad id!", "x": "1"}, {"type": "game_over"},
           {"product_id": b"\xff\xfe", "x": b"\x00\x01"}, {"product_id": "x" * 65}]
    ids = add(stream, settings.stream_key, [*odd, {"product_id": "pong", "v": b"\xc3("}])
    claim = flight.claim("c1", count=100, part_size=100, max_in_flight=1000, idle_ms=IDLE)

    assert [(p.product_id, n) for p, n in claim.parts] == [("", 4), ("pong", 1)]
    junk = flight.entries(claim.parts[0][0])
    assert junk is not None
    assert [entry_id for entry_id, _ in junk] == ids[:4]
    assert junk[2][1] == {b"product_id": b"\xff\xfe", b"x": b"\x00\x01"}
    # one entry that is not UTF-8: the part comes as bytes, for the validator to judge
    assert junk[0][1] == {b"product_id": b"bad id!", b"x": b"1"}
    assert flight.entries(claim.parts[1][0]) == [(ids[4], {b"product_id": b"pong",
                                                           b"v": b"\xc3("})]


def test_a_repeated_product_id_field_counts_by_its_last_value(
        flight: InFlight, stream: redis.Redis, settings: Settings) -> None:
    entry_id = stream.execute_command("XADD", settings.stream_key, "*", "product_id", "pong",
                                      "product_id", "chess").decode()
    claim = flight.claim("c1", count=10, part_size=10, max_in_flight=1000, idle_ms=IDLE)
    [(part, _)] = claim.parts
    assert part == Part(entry_id, 0, "chess")  # as a dict of the fields keeps it
    [(_, fields)] = flight.entries(part) or []
    assert type(fields) is TextFields and fields == {"product_id": "chess"}


def test_nothing_is_read_while_too_many_entries_are_in_flight(
        flight: InFlight, stream: redis.Redis, settings: Settings) -> None:
    add(stream, settings.stream_key, [{"product_id": "pong"}] * 5)
    assert flight.claim("c1", count=5, part_size=5, max_in_flight=5, idle_ms=IDLE).read == 5
    before = group_position(stream, settings)
    add(stream, settings.stream_key, [{"product_id": "pong"}] * 5)

    assert flight.claim("c1", count=5, part_size=5, max_in_flight=5, idle_ms=IDLE).status \
        == "busy"
    assert group_position(stream, settings) == before


def test_an_empty_claim_says_where_the_group_stands(
        flight: InFlight, stream: redis.Redis, settings: Settings) -> None:
    assert flight.claim("c1", count=5, part_size=5, max_in_flight=5, idle_ms=IDLE).last_id \
        == "0-0"
    ids = add(stream, settings.stream_key, [{"product_id": "pong"}] * 2)
    flight.claim("c1", count=5, part_size=5, max_in_flight=5, idle_ms=IDLE)
    empty = flight.claim("c2", count=5, part_size=5, max_in_flight=5, idle_ms=IDLE)
    assert (empty.status, empty.last_id, empty.parts) == ("empty", ids[-1], ())


def one_part(flight: InFlight, stream: redis.Redis, settings: Settings,
             n: int) -> tuple[list[str], Part, list[Entry]]:
    """``n`` pong entries claimed as one part: their ids, the part and its entries."""
    ids = add(stream, settings.stream_key, [{"product_id": "pong", "n": str(i)}
                                            for i in range(n)])
    [(part, size)] = flight.claim("c1", count=10, part_size=10, max_in_flight=100,
                                  idle_ms=IDLE).parts
    entries = flight.entries(part)
    assert entries is not None and size == n == len(entries)
    return ids, part, entries


def test_finishing_is_idempotent_and_a_follow_up_is_recorded_with_it(
        flight: InFlight, stream: redis.Redis, settings: Settings) -> None:
    ids, part, entries = one_part(flight, stream, settings, 4)
    size = len(entries)
    retry = part.retry(ids[2])
    assert retry == Part(ids[2], 1, "pong")

    assert flight.hand_on(part, size, (retry, entries[2:3]), due_in_ms=IDLE) == retry
    assert flight.entries(part) is None
    assert flight.entries(retry) == entries[2:3]
    assert flight.count() == 1
    # a second delivery of the same task: nothing changes, no second follow-up
    assert flight.hand_on(part, size, (part.retry(ids[0]), entries), due_in_ms=IDLE) is None
    assert flight.part_names() == [str(retry)] and flight.count() == 1
    assert flight.finish(retry, 1)
    assert flight.part_names() == [] and flight.count() == 0


def test_due_parts_come_back_once_until_they_are_due_again(
        flight: InFlight, stream: redis.Redis, settings: Settings) -> None:
    add(stream, settings.stream_key, [{"product_id": "pong"}, {"product_id": "chess"}])
    claim = flight.claim("c1", count=10, part_size=10, max_in_flight=100, idle_ms=50)
    assert flight.stale(idle_ms=50) == []  # not due yet
    time.sleep(0.06)
    assert sorted(map(str, flight.stale(idle_ms=60_000))) == sorted(
        str(p) for p, _ in claim.parts)
    assert flight.stale(idle_ms=60_000) == []  # pushed back: no other bridge takes them now
    flight.finish(claim.parts[0][0], 1)
    assert len(flight.part_names()) == 1


def test_a_part_put_by_hand_is_read_back_like_a_claimed_one(flight: InFlight) -> None:
    part = Part("5-0", 0, "exrps")
    rows = [("5-0", {b"product_id": b"exrps", b"type": b"game_over"}), ("5-1", {"a": "b"})]
    flight.put(part, rows, idle_ms=IDLE)
    assert flight.entries(part) == [("5-0", {"product_id": "exrps", "type": "game_over"}),
                                    ("5-1", {"a": "b"})]
    assert flight.count() == 2
    assert unpack_entries(pack_entries(rows)) == flight.entries(part)


def test_part_names_round_trip() -> None:
    assert Part.parse("1700000000000-3/2/exrps") == Part("1700000000000-3", 2, "exrps")
    assert Part.parse("1-0~2/0/pong") == Part("1-0", 0, "pong", copy=2)
    assert str(Part("1-0", 1, "pong", copy=3)) == "1-0~3/1/pong"
    assert Part("1-0", 0, "pong", copy=3).retry("1-5") == Part("1-5", 1, "pong")
    assert Part.parse(b"1-0/0/") == Part("1-0", 0, "")
    assert str(Part("1-0", 0, "a.b-c")) == "1-0/0/a.b-c"


def test_a_claim_commits_only_if_the_group_stayed_where_the_read_began(
        flight: InFlight, stream: redis.Redis, settings: Settings) -> None:
    ids = add(stream, settings.stream_key, [{"product_id": "pong"}] * 4)
    real_commit = flight._commit

    def meanwhile(**kwargs: object) -> object:  # another reader moved the group first
        stream.xgroup_setid(settings.stream_key, settings.stream_group, ids[1])
        flight._commit = real_commit
        return real_commit(**kwargs)

    flight._commit = meanwhile
    claim = flight.claim("c1", count=10, part_size=10, max_in_flight=100, idle_ms=IDLE)
    # the first commit was refused; the read was done again from where the group stood
    assert [(str(p), n) for p, n in claim.parts] == [(f"{ids[2]}/0/pong", 2)]
    assert flight.count() == 2 and flight.part_names() == [f"{ids[2]}/0/pong"]


def test_a_second_reader_waits_for_the_lease(flight: InFlight, stream: redis.Redis,
                                             settings: Settings) -> None:
    add(stream, settings.stream_key, [{"product_id": "pong"}] * 2)
    assert flight.claim("c1", count=1, part_size=10, max_in_flight=100, idle_ms=IDLE).read == 1
    assert flight.claim("c1", count=1, part_size=10, max_in_flight=100, idle_ms=IDLE).read == 1
    assert flight.claim("c1", count=1, part_size=10, max_in_flight=100,
                        idle_ms=IDLE).status == "empty"  # keeps the lease: reads next
    add(stream, settings.stream_key, [{"product_id": "pong"}])
    assert flight.claim("c2", count=1, part_size=10, max_in_flight=100,
                        idle_ms=IDLE).status == "wait"
    flight.release("c2")  # not its lease: nothing happens
    assert flight.claim("c2", count=1, part_size=10, max_in_flight=100,
                        idle_ms=IDLE).status == "wait"
    flight.release("c1")
    assert flight.claim("c2", count=1, part_size=10, max_in_flight=100, idle_ms=IDLE).read == 1


def test_the_group_keeps_counting_what_it_read(flight: InFlight, stream: redis.Redis,
                                               settings: Settings) -> None:
    add(stream, settings.stream_key, [{"product_id": "pong"}] * 7)
    flight.claim("c1", count=5, part_size=10, max_in_flight=100, idle_ms=IDLE)
    [group] = stream.xinfo_groups(settings.stream_key)
    assert (group["entries-read"], group["lag"]) == (5, 2)  # for /metrics and XINFO


def test_entries_an_earlier_bridge_left_pending_become_parts(
        flight: InFlight, stream: redis.Redis, settings: Settings) -> None:
    """Before parts, a bridge read with XREADGROUP and the worker acknowledged: what such
    a bridge left pending is adopted once, acknowledged in the same step, due at once."""
    ids = add(stream, settings.stream_key, [{"product_id": p, "n": str(i)} for i, p in
                                            enumerate(["pong", "exrps", "pong", "??"])])
    stream.xreadgroup(settings.stream_group, "old-bridge", {settings.stream_key: ">"}, count=3)
    stream.xdel(settings.stream_key, ids[2])  # trimmed while pending: only acknowledged

    assert flight.adopt_pending("new-bridge", part_size=100) == 3
    assert flight.adopt_pending("new-bridge", part_size=100) == 0
    assert stream.xpending(settings.stream_key, settings.stream_group)["pending"] == 0
    assert flight.part_names() == [f"{ids[0]}/0/pong", f"{ids[1]}/0/exrps"]
    assert flight.count() == 2
    assert sorted(map(str, flight.stale(idle_ms=IDLE))) == flight.part_names()  # due now
    # the entry never read stays for the next claim
    claim = flight.claim("new-bridge", count=10, part_size=10, max_in_flight=100, idle_ms=IDLE)
    assert [(str(p), n) for p, n in claim.parts] == [(f"{ids[3]}/0/", 1)]


def test_split_by_product_routes_as_group_by_product() -> None:
    """The bridge's split and the tools' grouping (replay, bench) name the same product:
    the last product_id field, or "" for an invalid, undecodable or missing one."""
    ids = [b"exrps", b"pong", b"exrps", b"bad id!", b"\xff\xfe", b"exrps\n", b"exrps", b"pong"]
    rows: list[list[Any]] = [[f"1-{i}".encode(), [b"product_id", pid, b"type", b"game_over"]]
                             for i, pid in enumerate(ids)]
    rows.append([b"1-8", [b"type", b"game_over"]])  # no product id
    rows.append([b"1-9", [b"product_id", b"bad id!", b"type", b"x", b"product_id", b"pong"]])
    parts = split_by_product(rows, part_size=2)
    # parts of at most 2, in the order they were started, named by their first entry
    assert [(p.first_id, p.product_id, len(members)) for p, members in parts] == [
        ("1-0", "exrps", 2), ("1-1", "pong", 2), ("1-3", "", 2), ("1-5", "", 2),
        ("1-6", "exrps", 1), ("1-9", "pong", 1)]
    split = {row[0].decode(): p.product_id for p, members in parts for row in members}
    entries = [(row[0].decode(), dict(zip(row[1][0::2], row[1][1::2], strict=True)))
               for row in rows]
    grouped = {entry_id: product for product, group in group_by_product(entries).items()
               for entry_id, _ in group}
    assert split == grouped == {
        "1-0": "exrps", "1-1": "pong", "1-2": "exrps", "1-3": "", "1-4": "", "1-5": "",
        "1-6": "exrps", "1-7": "pong", "1-8": "", "1-9": "pong"}


def in_flight_entries(flight: InFlight) -> int:
    """Entries held by the parts now in flight (what the counter must say)."""
    return sum(len(flight.entries(Part.parse(name)) or []) for name in flight.part_names())


def test_a_replay_while_parts_are_in_flight_loses_nothing(
        flight: InFlight, stream: redis.Redis, settings: Settings) -> None:
    """The replay of the README (the group moved back with XGROUP SETID) while the parts of
    the first read are still in flight: the second read of the same entries, in a longer
    part of the same first entry, is kept beside the first one, not written over it."""
    ids = add(stream, settings.stream_key, [{"product_id": "pong", "n": str(i)}
                                            for i in range(6)])
    [(first, n1)] = flight.claim("c1", count=3, part_size=10, max_in_flight=100,
                                 idle_ms=IDLE).parts
    taken = flight.entries(first)  # a worker fetched it and is applying it
    assert taken is not None and n1 == 3

    stream.xgroup_setid(settings.stream_key, settings.stream_group, id="0")
    [(second, n2)] = flight.claim("c1", count=10, part_size=10, max_in_flight=100,
                                  idle_ms=IDLE).parts
    assert n2 == 6 and second == Part(ids[0], 0, "pong", copy=1)  # ~1: a copy
    assert [e for e, _ in flight.entries(second) or []] == ids
    assert flight.count() == in_flight_entries(flight) == 9

    assert flight.finish(first, len(taken))  # the worker of the first part is done
    assert [e for e, _ in flight.entries(second) or []] == ids  # still there, whole
    assert flight.count() == in_flight_entries(flight) == 6
    assert flight.finish(second, n2)
    assert flight.part_names() == [] and flight.count() == 0


def test_a_follow_up_named_like_a_part_in_flight_is_kept_beside_it(
        flight: InFlight, stream: redis.Redis, settings: Settings) -> None:
    ids, part, entries = one_part(flight, stream, settings, 3)
    size = len(entries)
    other = Part(ids[1], 1, "pong")  # another part's retry, from an overlapping read
    flight.put(other, entries[1:], idle_ms=IDLE)

    retry = flight.hand_on(part, size, (part.retry(ids[1]), entries[1:2]), due_in_ms=IDLE)
    assert retry is not None and retry != other and retry.attempt == 1
    assert flight.entries(retry) == entries[1:2] and flight.entries(other) == entries[1:]
    assert flight.count() == in_flight_entries(flight) == 3
    # a second delivery of the task: nothing changes
    assert flight.hand_on(part, size, (part.retry(ids[1]), entries[1:2]), IDLE) is None
    assert flight.count() == in_flight_entries(flight) == 3


def test_each_reading_of_the_same_entries_in_flight_gets_its_own_copy(
        flight: InFlight, stream: redis.Redis, settings: Settings) -> None:
    ids = add(stream, settings.stream_key, [{"product_id": p} for p in
                                            ("pong", "chess", "pong", "chess")])
    readings = []
    for count in (2, 4, 3):  # three replays from the start, each reading further or not
        stream.xgroup_setid(settings.stream_key, settings.stream_group, id="0")
        claim = flight.claim("c1", count=count, part_size=10, max_in_flight=100,
                             idle_ms=IDLE)
        readings.append([(str(part), n) for part, n in claim.parts])
    assert readings == [[(f"{ids[0]}/0/pong", 1), (f"{ids[1]}/0/chess", 1)],
                        [(f"{ids[0]}~1/0/pong", 2), (f"{ids[1]}~1/0/chess", 2)],
                        [(f"{ids[0]}~2/0/pong", 2), (f"{ids[1]}~2/0/chess", 1)]]
    assert flight.count() == in_flight_entries(flight) == 9
    assert len(flight.stale(idle_ms=IDLE, limit=100)) == 0  # each due in IDLE, as claimed
    for reading in readings:
        for name, n in reading:
            assert flight.finish(Part.parse(name), n)
    assert flight.count() == 0 and flight.part_names() == []
