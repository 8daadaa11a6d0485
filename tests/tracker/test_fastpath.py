"""The fast path returns parse_entry's Event or defers; it never accepts what marshmallow rejects.

Hypothesis draws valid Varcade entries and mutates them adversarially (other
types where bytes are expected, bools and ints, floats, huge ints, unicode,
boundary lengths, placeholders, non-UTF-8, missing, extra and colliding fields,
swapped discriminators); for every one, the fast path's answer must equal the
marshmallow path's, or be "not sure" (None).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import validate

from bench.workload import generate
from tests.support.fuzz import OK, Case, cases, valid_events
from tests.support.varcade import EID, EXAMPLE, P1, P2, G, game_over, raw, submitted
from tracker import fastpath
from tracker.events import (
    BARE_SELECT_WEAPON,
    EVENT_TYPES,
    GAMEPLAY_EVENTS,
    PLACEHOLDER_IDS,
    SCHEMAS,
    Event,
    InvalidEvent,
    TextFields,
    decode_fields,
    parse_entry,
)
from tracker.fastpath import fast_parse

ALL_SCHEMAS = [*SCHEMAS.values(), BARE_SELECT_WEAPON]
FIELD_NAMES = sorted({name for s in ALL_SCHEMAS for name in s.load_fields} | {"event_name"})


def slow(entry_id: Any, fields: Any) -> Event | InvalidEvent | Exception:
    """What parse_entry does with the entry: an Event, its InvalidEvent, or another error."""
    try:
        return parse_entry(entry_id, fields)
    except Exception as exc:
        return exc


def assert_agrees(entry_id: Any, fields: Any) -> Event | None:
    """The fast path's answer is marshmallow's or None; ``parse`` behaves as parse_entry."""
    expected = slow(entry_id, fields)
    fast = fast_parse(entry_id, fields)
    if fast is not None:
        assert isinstance(expected, Event), f"fast path accepted a reject: {expected}"
        assert fast == expected
        assert (fast.type, fast.event_name, fast.game_id) == (
            expected.type, expected.event_name, expected.game_id)
    try:  # the same entry as the worker gets it when msgpack decoded it already
        text = TextFields(decode_fields(fields))
    except (InvalidEvent, AttributeError):
        text = None
    if text is not None:
        fast_text = fast_parse(entry_id, text)
        assert fast_text == fast or (fast is None and fast_text == expected)
    try:
        combined: Event | Exception = fastpath.parse(entry_id, fields)
    except Exception as exc:
        combined = exc
    if isinstance(expected, Event):
        assert combined == expected
    else:  # the same rejection, reason and detail, as without the fast path
        assert type(combined) is type(expected) and str(combined) == str(expected)
        if isinstance(expected, InvalidEvent):
            assert isinstance(combined, InvalidEvent)
            assert (combined.reason, combined.detail) == (expected.reason, expected.detail)
    return fast


# --- the real event formats ----------------------------------------------------------


@pytest.mark.parametrize("row", EXAMPLE, ids=lambda r: r.get("event_name", r["type"]))
def test_every_reference_example_takes_the_fast_path(row: dict[str, str]) -> None:
    assert assert_agrees(EID, raw(row)) is not None
    backwards = dict(reversed(list(raw(row).items())))  # field order never matters
    assert assert_agrees(EID, backwards) is not None


def test_game_over_of_every_product() -> None:
    for product in ("exrps", "pong", "chess", "tanks"):
        assert assert_agrees(EID, raw(game_over(product, P1, P2))) is not None


def test_the_benchmark_workload_takes_the_fast_path_with_the_same_events() -> None:
    entries = generate(3000, seed=7)
    for i, row in enumerate(entries):
        assert assert_agrees(f"1700000000000-{i}", raw(row)) is not None, row


def test_bare_select_weapon_fixture_gives_marshmallows_event() -> None:
    bare = {"event_name": "select_weapon", "event_data": "2", "user_id": P1, "product_id": "exrps"}
    assert_agrees(EID, raw(bare))
    assert_agrees(EID, raw({**bare, "game_id": G}))
    assert fastpath.parse(EID, raw(bare)).type == "gameplay"


@pytest.mark.parametrize("fields", [
    {"product_id": "exrps", "game_id": G, "type": "game_over", "winner_id": P1, "loser_id": P1},
    {"product_id": "exrps", "game_id": G, "type": "gameplay", "event_name": "progression",
     "progress_event": "round_finished", "p1_id": P1, "p2_id": P2, "round_winner_id": P2,
     "round_loser_id": P2},
    {"product_id": "exrps", "game_id": G, "type": "gameplay", "event_name": "progression",
     "progress_event": "round_finished", "p1_id": P1, "p2_id": P2},
    {"product_id": "exrps", "game_id": "null", "type": "game_removed"},
    {"product_id": "exrps", "game_id": " undefined\u2003", "type": "game_removed"},
    {"product_id": "exrps\n", "game_id": G, "type": "game_removed"},
    {"product_id": "exrps", "game_id": G, "type": "gameplay", "event_name": "select_fighter",
     "event_data": "", "user_id": P1},
    {"product_id": "exrps", "game_id": G, "type": "Game_over", "winner_id": P1, "loser_id": P2},
    {"product_id": "exrps", "game_id": G, "type": "gameplay", "event_name": "shoot"},
    {"product_id": "exrps", "game_id": "g" * 129, "type": "game_removed"},
    {"event_name": "select_fighter", "event_data": "aru", "user_id": P1, "product_id": "exrps"},
], ids=["self-play", "round self-result", "round without result", "placeholder",
        "unicode-padded placeholder", "newline product", "empty fighter", "type case",
        "unknown event_name", "id too long", "bare non-weapon"])
def test_invalid_entries_are_left_to_marshmallow(fields: dict[str, str]) -> None:
    assert isinstance(slow(EID, raw(fields)), InvalidEvent)
    assert fast_parse(EID, raw(fields)) is None
    assert_agrees(EID, raw(fields))


@pytest.mark.parametrize("entry_id", ["1-0", "0-0", f"{'9' * 20}-{'9' * 20}"])
def test_entry_ids_at_the_limits(entry_id: str) -> None:
    assert assert_agrees(entry_id, raw(EXAMPLE[-1])) is not None


@pytest.mark.parametrize("entry_id", ["", "1", "1-", "-1", "1-0\n", "1-0 ", "a-0", "\u0661-\u0660",
                                      f"{'9' * 21}-0", 17, None, b"1-0"])
def test_bad_entry_ids_defer(entry_id: Any) -> None:
    assert fast_parse(entry_id, raw(EXAMPLE[-1])) is None
    assert_agrees(entry_id, raw(EXAMPLE[-1]))


def test_str_pairs_and_mixed_keys_defer_to_the_slow_decoding() -> None:
    row = game_over("exrps", P1, P2)
    assert fast_parse(EID, row) is None
    assert fastpath.parse(EID, row) == parse_entry(EID, row)
    colliding: dict[Any, Any] = {**raw(row), "type": "game_removed"}  # b"type" and "type"
    assert fast_parse(EID, colliding) is None
    assert_agrees(EID, colliding)


class OddBytes(bytes):
    def decode(self, *args: Any, **kwargs: Any) -> str:
        return "game_removed"


def test_a_bytes_subclass_decodes_as_bytes_on_both_paths() -> None:
    row: dict[bytes, bytes] = {**raw(game_over("exrps", P1, P2)), b"type": OddBytes(b"game_over")}
    event = assert_agrees(EID, row)
    assert event is not None and event.type == "game_over"


# --- hypothesis: valid and adversarially mutated entries ----------------------------


def _near_misses(word: str) -> set[str]:
    """``word`` and what a careless producer makes of it: padded, cased, cut, with a NUL."""
    return {word, f" {word}", f"{word} ", f"{word}\n", f"\u2003{word}\u00a0", word.upper(),
            word.capitalize(), word[:-1], f"{word}\x00"}


def _tokens() -> dict[bytes, list[str]]:
    """Per field, near misses of every word its OneOf or Equal accepts."""
    out: dict[bytes, set[str]] = {}
    for schema in ALL_SCHEMAS:
        for name, f in schema.load_fields.items():
            for v in f.validators:
                words = v.choices if isinstance(v, validate.OneOf) else (
                    [v.comparable] if isinstance(v, validate.Equal) else [])
                for word in words:
                    out.setdefault(name.encode(), set()).update(_near_misses(word))
    return {name: sorted(tokens) for name, tokens in out.items()}


def _limits() -> dict[bytes, list[int]]:
    """Per field, the lengths around its Length limits (product_id: its regex's 64)."""
    out: dict[bytes, set[int]] = {b"product_id": {63, 64, 65}}
    for schema in ALL_SCHEMAS:
        for name, f in schema.load_fields.items():
            for v in f.validators:
                if isinstance(v, validate.Length):
                    bounds = {x for x in (v.min, v.max, v.equal) if x is not None}
                    out.setdefault(name.encode(), set()).update(
                        n for b in bounds for n in (b - 1, b, b + 1) if n >= 0)
    return {name: sorted(lengths) for name, lengths in out.items()}


NON_UTF8 = [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80abc", b"\xf4\x90\x80\x80"]
TOKENS_BY_FIELD = _tokens()
TOKENS = sorted({t for w in [*PLACEHOLDER_IDS, "exrps", "pong"] for t in _near_misses(w)}
                | {t for ts in TOKENS_BY_FIELD.values() for t in ts})
LIMITS = _limits()
CHARS = ["a", "é", "😀", "-", "\u00a0", "0"]  # one byte, two, four; a space strip() removes
texts = st.one_of(
    st.text(max_size=300),
    st.sampled_from(TOKENS),
    st.builds(lambda c, n: c * n, st.sampled_from(CHARS),
              st.sampled_from(sorted({n for ns in LIMITS.values() for n in ns}))),
    st.sampled_from([P1, P2, G]),
)
encoded = st.one_of(
    texts.map(str.encode),
    st.binary(max_size=40),
    st.builds(lambda t, junk: t.encode() + junk, texts, st.sampled_from(NON_UTF8)),
)
odd_values = st.one_of(  # what a buggy producer or a redelivery might hand over
    texts, st.integers(), st.booleans(), st.floats(), st.just(2**100), st.none(),
    encoded.map(bytearray), encoded.map(lambda b: memoryview(b)), st.just(["gameplay"]),
    st.just(OddBytes()),
)
values = st.one_of(texts.map(str.encode), encoded, odd_values)
keys = st.one_of(st.sampled_from(FIELD_NAMES).map(str.encode), encoded,
                 st.sampled_from(FIELD_NAMES), st.integers(), st.booleans())
MUTATIONS = ["set", "token", "token", "boundary", "boundary", "copy", "drop", "extra", "retype",
             "bare", "as_str"]


@st.composite
def mutated(draw: st.DrawFn) -> dict[Any, Any]:
    """A valid entry (as bytes) with one to three mutations (mostly one)."""
    fields: dict[Any, Any] = raw(draw(valid_events(scores=True)))
    names = [n.encode() for n in FIELD_NAMES]
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        present = list(fields) or names
        how = draw(st.sampled_from(MUTATIONS))
        if how == "set":  # mostly a field the entry has, sometimes one of another event
            name = draw(st.one_of(st.sampled_from(present), st.sampled_from(names)))
            fields[name] = draw(values)
        elif how == "token":  # near misses of the field's own words, or of any
            name = draw(st.sampled_from(present))
            fields[name] = draw(st.sampled_from(TOKENS_BY_FIELD.get(name, TOKENS))).encode()
        elif how == "boundary":  # lengths at the field's limits, in characters not bytes
            name = draw(st.sampled_from(present))
            size = draw(st.sampled_from(LIMITS.get(name, [0, 1, 300])))
            fields[name] = (draw(st.sampled_from(CHARS)) * size).encode()
        elif how == "copy":  # e.g. winner == loser
            fields[draw(st.sampled_from(present))] = fields[draw(st.sampled_from(present))]
        elif how == "drop" and fields:
            del fields[draw(st.sampled_from(present))]
        elif how == "extra":
            fields[draw(keys)] = draw(values)
        elif how == "retype":  # discriminators of another kind of event
            fields[b"type"] = draw(st.sampled_from(EVENT_TYPES)).encode()
            fields[b"event_name"] = draw(st.sampled_from(GAMEPLAY_EVENTS)).encode()
        elif how == "bare":  # the original fixtures' select_weapon without type (§3.3)
            for name in draw(st.sampled_from([[b"type"], [b"type", b"game_id"]])):
                fields.pop(name, None)
        elif how == "as_str":
            fields = {k.decode("utf-8", "replace") if isinstance(k, bytes) else k:
                      v.decode("utf-8", "replace") if isinstance(v, bytes) else v
                      for k, v in fields.items()}
    return fields


def test_every_single_field_near_miss_agrees() -> None:
    """Exhaustive for one change to one field of each real entry: the cases chance finds rarely."""
    bare = {"event_name": "select_weapon", "event_data": "2", "user_id": P1, "product_id": "exrps"}
    score = submitted("snake", "high_score", P1, "61.25")
    rows = [*EXAMPLE, bare, {**bare, "game_id": G}, score, {**score, "game_id": G}]
    fast = total = 0
    for row in rows:
        for name in sorted({*row, *FIELD_NAMES}):
            key = name.encode()
            candidates = {*TOKENS_BY_FIELD.get(key, []), *_near_misses(row.get(name, "x")),
                          *PLACEHOLDER_IDS, *_near_misses("null"), *row.values(), ""}
            candidates |= {c * n for c in CHARS for n in LIMITS.get(key, [0, 1, 300])}
            variants = [{**raw(row), key: c.encode()} for c in sorted(candidates)]
            variants.append({k: v for k, v in raw(row).items() if k != key})
            for entry in variants:
                total += 1
                fast += assert_agrees(EID, entry) is not None
    assert fast > total // 10  # the fast path does take the valid ones


entry_ids = st.one_of(st.from_regex(r"\d{1,21}-\d{1,21}", fullmatch=True), st.text(max_size=25))
PROPERTY = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@settings(PROPERTY, max_examples=1500)
@given(fields=mutated())
def test_mutated_entries_agree_with_marshmallow_or_defer(fields: dict[Any, Any]) -> None:
    assert_agrees(EID, fields)


@PROPERTY
@given(entry_id=entry_ids, row=valid_events(scores=True))
def test_any_entry_id_agrees_with_marshmallow_or_defers(entry_id: str, row: dict[str, str]) -> None:
    assert_agrees(entry_id, raw(row))


@PROPERTY
@given(fields=st.dictionaries(keys, values, max_size=10))
def test_arbitrary_field_maps_agree_with_marshmallow_or_defer(fields: dict[Any, Any]) -> None:
    assert_agrees(EID, fields)


@PROPERTY
@given(row=valid_events(scores=True))
def test_valid_entries_take_the_fast_path(row: dict[str, str]) -> None:
    assert assert_agrees(EID, raw(row)) is not None


@PROPERTY
@given(case=cases())
def test_the_pipeline_fuzz_cases_agree(case: Case) -> None:
    fast = assert_agrees(EID, case.fields)
    if case.expected == OK:  # valid cases include extra and huge unknown fields
        assert fast is not None, case.what


def test_fast_path_events_are_the_same_immutable_events() -> None:
    event = fast_parse(EID, raw(EXAMPLE[0]))
    assert type(event) is Event and event == parse_entry(EID, raw(EXAMPLE[0]))
    with pytest.raises(AttributeError):
        event.type = "game_over"  # type: ignore[misc]
    assert "creator_joined" not in repr(event)
