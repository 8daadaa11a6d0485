"""The Redis store (atomic, idempotent batch apply), key layout and dead letters."""

from __future__ import annotations

import re

import pytest
import redis
from redis.crc import key_slot

from tests.support.varcade import EXAMPLE, P1, P2, game_over
from tracker.handlers import EloResult, EnsureOnBoard, IncrScore, IncrStat
from tracker.processing import BatchProcessor
from tracker.products import Products
from tracker.storage import ApplyResult, DeadLetter, DeadLetters, Keys, PreparedEvent, Store
from tracker.storage.keys import HOUR_MS
from tracker.storage.store import encode_op

T0 = 1700000000000  # an entry-id millisecond time, 2023-11-14T22:13:20Z


def ev(entry_id: str, *ops: object, game_id: str = "") -> PreparedEvent:
    return PreparedEvent(entry_id, game_id, list(ops))  # type: ignore[arg-type]


def win(entry_id: str, winner: str = P1, loser: str = P2, game_id: str = "") -> PreparedEvent:
    """What the default handlers make of one game_over."""
    return ev(entry_id, IncrScore("wins", winner, 1.0), EnsureOnBoard("wins", loser, 0.0),
              IncrStat(winner, "games"), IncrStat(winner, "wins"), IncrStat(winner, "losses", 0),
              IncrStat(loser, "games"), IncrStat(loser, "losses"), IncrStat(loser, "wins", 0),
              game_id=game_id)


def snapshot(client: redis.Redis, pattern: str = "st:{exrps}:*") -> dict[bytes, bytes | None]:
    """Every matching key's serialized value (type and content), for before/after checks;
    not the monitoring totals, which count duplicates too."""
    return {key: client.dump(key) for key in sorted(client.scan_iter(match=pattern))
            if not key.endswith(b":counters")}


# --- operations ------------------------------------------------------------------------


def test_each_operation_kind(store: Store, data: redis.Redis) -> None:
    result = store.apply("exrps", "s", [
        ev(f"{T0}-0", IncrScore("wins", "a", 2.5), IncrScore("wins", "a", 1.0),
           EnsureOnBoard("wins", "b", 0.0), EnsureOnBoard("wins", "a", 0.0),
           IncrStat("a", "games"), IncrStat("a", "games", 2), IncrStat("a", "wins", 0),
           EloResult("elo", "a", "b", 32.0, 1500.0)),
    ])
    assert result == ApplyResult(applied=1, duplicates=0, duplicate_results=[])
    assert store.top("exrps", "wins") == [("a", 3.5), ("b", 0.0)]  # ZADD NX keeps a's score
    assert store.player_stats("exrps", "a") == {"games": 3, "wins": 0}
    assert store.top("exrps", "elo") == [("a", 1516.0), ("b", 1484.0)]
    assert store.board_size("exrps", "wins") == 2
    assert store.score("exrps", "wins", "nobody") is None
    assert data.hget("st:{exrps}:stats:a", "games") == b"3"


def test_reads_of_missing_data(store: Store) -> None:
    assert store.top("exrps", "wins") == []
    assert store.player_stats("exrps", P1) == {}
    assert store.board_size("exrps", "wins") == 0


def test_top_is_best_first_and_limited(store: Store) -> None:
    store.apply("exrps", "s", [ev(f"{T0}-0", *(IncrScore("wins", f"u{i}", i) for i in range(15)))])
    top = store.top("exrps", "wins")
    assert [m for m, _ in top] == [f"u{i}" for i in range(14, 4, -1)]
    assert len(store.top("exrps", "wins", count=3)) == 3


def test_empty_batch_touches_nothing(store: Store, data: redis.Redis) -> None:
    assert store.apply("exrps", "s", []) == ApplyResult()
    assert data.dbsize() == 0


def test_unknown_op_is_refused_before_redis() -> None:
    with pytest.raises(TypeError, match="not a storage operation"):
        encode_op("zadd")  # type: ignore[arg-type]


def test_products_do_not_share_data(store: Store) -> None:
    store.apply("exrps", "s", [win(f"{T0}-0")])
    store.apply("pong", "s", [win(f"{T0}-0", winner=P2, loser=P1)])
    assert store.top("exrps", "wins") == [(P1, 1.0), (P2, 0.0)]
    assert store.top("pong", "wins") == [(P2, 1.0), (P1, 0.0)]


# --- idempotence ----------------------------------------------------------------------------


def test_apply_is_idempotent_across_calls(store: Store, data: redis.Redis) -> None:
    batch = [win(f"{T0}-0"), win(f"{T0}-1", P2, P1), ev(f"{T0 + HOUR_MS}-0",
                                                         IncrStat(P1, "rock_selection_count"))]
    first = store.apply("exrps", "s", batch)
    assert (first.applied, first.duplicates) == (3, 0)
    before = snapshot(data)
    second = store.apply("exrps", "s", batch)
    assert (second.applied, second.duplicates, second.duplicate_results) == (0, 3, [])
    assert snapshot(data) == before
    assert store.counters(["exrps", "pong"]) == {"exrps": {"applied": 3, "duplicates": 3},
                                                 "pong": {}}
    # a partly new batch applies only the new entry
    third = store.apply("exrps", "s", [batch[0], win(f"{T0}-2")])
    assert (third.applied, third.duplicates) == (1, 1)
    assert store.score("exrps", "wins", P1) == 2.0


def test_same_entry_twice_in_one_batch_applies_once(store: Store) -> None:
    result = store.apply("exrps", "s", [win(f"{T0}-0"), win(f"{T0}-0")])
    assert (result.applied, result.duplicates) == (1, 1)
    assert store.top("exrps", "wins") == [(P1, 1.0), (P2, 0.0)]
    assert store.player_stats("exrps", P1) == {"games": 1, "wins": 1, "losses": 0}


def test_same_game_over_entry_twice_in_one_batch_is_a_duplicate_not_a_second_result(
        store: Store) -> None:
    result = store.apply("exrps", "s", [win(f"{T0}-0", game_id="g1"), win(f"{T0}-0", game_id="g1")])
    assert (result.applied, result.duplicates, result.duplicate_results) == (1, 1, [])


def test_entry_ids_are_deduped_per_source(store: Store) -> None:
    assert store.apply("exrps", "a", [win(f"{T0}-0")]).applied == 1
    assert store.apply("exrps", "b", [win(f"{T0}-0")]).applied == 1
    assert store.score("exrps", "wins", P1) == 2.0


def test_an_event_without_ops_is_still_marked_seen(store: Store, data: redis.Redis) -> None:
    assert store.apply("exrps", "s", [ev(f"{T0}-0")]).applied == 1
    assert store.apply("exrps", "s", [ev(f"{T0}-0")]).duplicates == 1


def test_elo_is_not_rated_twice(store: Store) -> None:
    game = ev(f"{T0}-0", EloResult("elo", "a", "b", 32.0, 1500.0), game_id="g")
    store.apply("exrps", "s", [game, game])
    store.apply("exrps", "s", [game])
    assert store.top("exrps", "elo") == [("a", 1516.0), ("b", 1484.0)]


# --- one result per match --------------------------------------------------------------------


def test_second_result_for_a_game_id_is_reported_and_not_applied(store: Store) -> None:
    result = store.apply("exrps", "s", [win(f"{T0}-0", game_id="g1"),
                                        win(f"{T0}-1", P2, P1, game_id="g1"),
                                        win(f"{T0}-2", game_id="g2")])
    assert (result.applied, result.duplicates) == (2, 0)
    assert result.duplicate_results == [f"{T0}-1"]
    assert store.top("exrps", "wins") == [(P1, 2.0), (P2, 0.0)]


def test_duplicate_result_is_reported_again_on_redelivery(store: Store) -> None:
    store.apply("exrps", "s", [win(f"{T0}-0", game_id="g1")])
    for _ in range(2):  # not marked seen: a redelivery must not lose its dead letter
        again = store.apply("exrps", "s", [win(f"{T0}-0", game_id="g1"),
                                           win(f"{T0}-5", game_id="g1")])
        assert (again.applied, again.duplicates, again.duplicate_results) == (0, 1, [f"{T0}-5"])
    assert store.score("exrps", "wins", P1) == 1.0


def test_a_result_from_another_source_is_still_the_same_match(store: Store) -> None:
    store.apply("exrps", "a", [win(f"{T0}-0", game_id="g1")])
    result = store.apply("exrps", "b", [win(f"{T0}-0", game_id="g1")])
    assert result.duplicate_results == [f"{T0}-0"]


def test_same_game_id_in_two_products_counts_in_each(store: Store) -> None:
    assert store.apply("exrps", "s", [win(f"{T0}-0", game_id="g1")]).applied == 1
    assert store.apply("pong", "s", [win(f"{T0}-1", game_id="g1")]).applied == 1


def test_events_without_a_game_id_are_never_results(store: Store) -> None:
    result = store.apply("exrps", "s", [win(f"{T0}-{i}") for i in range(3)])
    assert (result.applied, result.duplicate_results) == (3, [])


# --- dedupe TTL ---------------------------------------------------------------------------------


def test_dedupe_ttl_expires_the_seen_sets_only(data: redis.Redis) -> None:
    store = Store(data, Keys("st"), dedupe_ttl=3600)
    store.apply("exrps", "s", [win(f"{T0}-0", game_id="g"), win(f"{T0 + 2 * HOUR_MS}-0")])
    seen = list(data.scan_iter(match="st:{exrps}:seen:*"))
    assert len(seen) == 2  # one set per hour of entry time
    for key in seen:
        assert 0 < data.ttl(key) <= 3600
    for key in data.scan_iter(match="st:{exrps}:*"):
        if key not in seen:  # boards, stats and the results set are kept for ever
            assert data.ttl(key) == -1, key


def test_dedupe_ttl_zero_keeps_everything(store: Store, data: redis.Redis) -> None:
    assert store.dedupe_ttl == 0
    store.apply("exrps", "s", [win(f"{T0}-0", game_id="g"), win(f"{T0 + HOUR_MS}-0")])
    keys = list(data.scan_iter(match="st:*"))
    assert any(b":seen:" in k for k in keys)
    assert all(data.ttl(k) == -1 for k in keys)


def test_seen_sets_are_bucketed_by_the_hour_of_the_entry_id(store: Store,
                                                            data: redis.Redis) -> None:
    hour = T0 // HOUR_MS
    store.apply("exrps", "src", [ev(f"{hour * HOUR_MS}-0"), ev(f"{(hour + 1) * HOUR_MS - 1}-7"),
                                 ev(f"{(hour + 1) * HOUR_MS}-0")])
    assert data.smembers(f"st:{{exrps}}:seen:src:{hour}") == {
        f"{hour * HOUR_MS}-0".encode(), f"{(hour + 1) * HOUR_MS - 1}-7".encode()}
    assert data.smembers(f"st:{{exrps}}:seen:src:{hour + 1}") == {
        f"{(hour + 1) * HOUR_MS}-0".encode()}


# --- key layout ------------------------------------------------------------------------------

PRODUCT_KEY = re.compile(
    rb"^st:\{(exrps|pong|chess)\}:(lb:[a-z]+(:scores|:counts)?|stats:.+|seen:s:\d+|results"
    rb"|counters)$")
DEADLETTER_KEY = re.compile(rb"^st:\{deadletter\}:(stream|seen)$")


def test_every_key_carries_its_product_hash_tag(products: Products, store: Store,
                                                dead_letters: DeadLetters,
                                                data: redis.Redis) -> None:
    rows = [
        *EXAMPLE,
        game_over("exrps", P2, P1, game_id=EXAMPLE[8]["game_id"]),  # duplicate result
        game_over("exrps", P1, P1),  # self-play
        {"product_id": "exrps", "type": "bogus"},
        {"event_name": "select_weapon", "event_data": "7", "user_id": "odd{user}:id",
         "product_id": "exrps"},
    ]
    entries = [(f"{T0 + i}-0", {k.encode(): v.encode() for k, v in row.items()})
               for i, row in enumerate(rows)]
    processor = BatchProcessor(products, store, dead_letters)
    report = processor.process("exrps", "s", entries)
    assert report.applied == 4 and sum(report.dead_lettered.values()) == 3
    processor.process("pong", "s", [(f"{T0}-0", {k.encode(): v.encode()
                                                  for k, v in game_over("pong", P1, P2).items()})])
    processor.process("nope", "s", [(f"{T0}-1", {b"product_id": b"nope", b"type": b"x"})])

    keys = list(data.scan_iter())
    assert keys
    slots: dict[bytes, set[int]] = {}
    for key in keys:
        match = PRODUCT_KEY.match(key) or DEADLETTER_KEY.match(key)
        assert match, key
        tag = key.split(b"}")[0] + b"}"
        slots.setdefault(tag, set()).add(key_slot(key))
    assert set(slots) == {b"st:{exrps}", b"st:{pong}", b"st:{deadletter}"}
    assert all(len(s) == 1 for s in slots.values())  # one cluster slot per product
    assert key_slot(b"st:{exrps}:stats:odd{user}:id") == key_slot(b"st:{exrps}:lb:wins")
    assert store.player_stats("exrps", "odd{user}:id") == {"invalid_selection_count": 1}


def test_key_names() -> None:
    keys = Keys("st")
    assert keys.product("exrps") == "st:{exrps}:"
    assert keys.board("exrps", "wins") == "st:{exrps}:lb:wins"
    assert keys.stats("exrps", P1) == f"st:{{exrps}}:stats:{P1}"
    assert keys.results("exrps") == "st:{exrps}:results"
    assert keys.counters("exrps") == "st:{exrps}:counters"
    assert keys.seen("exrps", "game_event_stream", f"{T0}-3") == \
        f"st:{{exrps}}:seen:game_event_stream:{T0 // HOUR_MS}"
    assert keys.deadletter_stream == "st:{deadletter}:stream"
    assert keys.deadletter_seen == "st:{deadletter}:seen"
    assert Keys().prefix == "st"


@pytest.mark.parametrize("prefix", ["st{", "}", "a{b}"])
def test_prefix_without_braces(prefix: str) -> None:
    with pytest.raises(ValueError, match="braces"):
        Keys(prefix)


def test_another_prefix_is_honoured(data: redis.Redis) -> None:
    store = Store(data, Keys("other"))
    store.apply("exrps", "s", [win(f"{T0}-0")])
    assert all(k.startswith(b"other:{exrps}:") for k in data.scan_iter())
    assert Store(data, Keys("st")).top("exrps", "wins") == []


# --- dead letters --------------------------------------------------------------------------------


def letter(entry_id: str = f"{T0}-0", source: str = "s", reason: str = "invalid_fields",
           fields: dict[bytes, bytes] | None = None) -> DeadLetter:
    return DeadLetter(source, entry_id, reason, "detail", "exrps",
                      fields if fields is not None else {b"product_id": b"exrps"})


def test_dead_letters_keep_original_bytes_exactly(dead_letters: DeadLetters) -> None:
    original = {
        b"product_id": b"exrps",
        b"type": b"game_over",
        b"winner_id": b"\xff\xfe\x00\x01",
        b"loser_id": b"",
        b"\xc3(": b"non-utf8 field name",
        b"reason": b"a field named like ours",
        b"note": "caf\u00e9 \u2603".encode(),
        b"big": bytes(range(256)) * 4,
    }
    assert dead_letters.add([DeadLetter("game_event_stream", f"{T0}-4", "not_utf8",
                                        "winner_id: \u2603", "exrps", original)]) == 1
    (stored,) = dead_letters.list()
    assert stored.fields == original
    assert list(stored.fields) == list(original)  # field order kept too
    assert (stored.source, stored.entry_id, stored.reason, stored.detail, stored.product_id) == (
        "game_event_stream", f"{T0}-4", "not_utf8", "winner_id: \u2603", "exrps")
    assert re.fullmatch(r"\d+-\d+", stored.id)


def test_dead_letter_fields_given_as_str_are_stored_as_utf8(dead_letters: DeadLetters) -> None:
    dead_letters.add([letter(fields={"user_id": "caf\u00e9"})])  # type: ignore[dict-item]
    assert dead_letters.list()[0].fields == {b"user_id": "caf\u00e9".encode()}


def test_dead_letter_add_is_idempotent_per_source_and_entry(dead_letters: DeadLetters) -> None:
    assert dead_letters.add([letter()]) == 1
    assert dead_letters.add([letter()]) == 0
    assert dead_letters.add([letter(reason="something_else")]) == 0  # same entry: still once
    assert dead_letters.add([letter(), letter()]) == 0
    assert dead_letters.count() == 1
    assert dead_letters.add([letter(source="other"), letter(entry_id=f"{T0}-1"),
                             letter(entry_id=f"{T0}-1")]) == 2
    assert dead_letters.count() == 3


def test_dead_letter_empty_add(dead_letters: DeadLetters, data: redis.Redis) -> None:
    assert dead_letters.add([]) == 0
    assert dead_letters.count() == 0 and dead_letters.list() == []
    assert data.dbsize() == 0


def test_dead_letter_listing_pages(dead_letters: DeadLetters) -> None:
    dead_letters.add([letter(entry_id=f"{T0}-{i}") for i in range(5)])
    first = dead_letters.list(count=2)
    assert [d.entry_id for d in first] == [f"{T0}-0", f"{T0}-1"]
    rest = dead_letters.list(count=10, after=first[-1].id)
    assert [d.entry_id for d in rest] == [f"{T0}-{i}" for i in range(2, 5)]
    assert dead_letters.list(after=rest[-1].id) == []


def test_dead_letter_stream_layout(dead_letters: DeadLetters, data: redis.Redis) -> None:
    dead_letters.add([letter(fields={b"product_id": b"exrps", b"type": b"bogus"})])
    ((_, raw),) = data.xrange("st:{deadletter}:stream")
    assert raw == {b"reason": b"invalid_fields", b"detail": b"detail", b"source": b"s",
                   b"entry_id": f"{T0}-0".encode(), b"product_id": b"exrps",
                   b"orig.product_id": b"exrps", b"orig.type": b"bogus"}
    assert data.smembers("st:{deadletter}:seen") == {f"s/{T0}-0".encode()}


def test_processing_dead_letters_are_byte_exact(products: Products, store: Store,
                                                dead_letters: DeadLetters) -> None:
    raw = {b"product_id": b"exrps", b"game_id": b"g", b"type": b"game_over",
           b"winner_id": b"\x80abc", b"loser_id": P2.encode(), b"extra": b"\x00"}
    processor = BatchProcessor(products, store, dead_letters)
    processor.process("exrps", "s", [(f"{T0}-0", raw)])
    processor.process("exrps", "s", [(f"{T0}-0", raw)])  # redelivered
    (stored,) = dead_letters.list()
    assert stored.reason == "not_utf8" and stored.fields == raw
