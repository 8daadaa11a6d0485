"""parse_entry's rejects, each with its reason code, and properties over random entries:
anything either parses or is an InvalidEvent."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.varcade import EID, EXAMPLE, P1, P2, G, game_over, raw, reject, weapon
from tracker.events import (
    MAX_ID_LEN,
    MAX_VALUE_LEN,
    Event,
    InvalidEvent,
    decode_fields,
    parse_entry,
)

# --- rejects, with their reason codes --------------------------------------------------

ID_FIELDS = [
    (EXAMPLE[0], "game_id"),
    (EXAMPLE[2], "user_id"),
    (EXAMPLE[3], "user_id"),
    (EXAMPLE[4], "p1_id"),
    (EXAMPLE[4], "p2_id"),
    (EXAMPLE[5], "user_id"),
    (EXAMPLE[7], "round_winner_id"),
    (EXAMPLE[7], "round_loser_id"),
    (EXAMPLE[8], "winner_id"),
    (EXAMPLE[8], "loser_id"),
    (EXAMPLE[8], "game_id"),
    (EXAMPLE[9], "game_id"),
    (EXAMPLE[10], "player_id"),
    ({"event_name": "select_weapon", "event_data": "0", "user_id": P1, "product_id": "exrps",
      "game_id": G}, "game_id"),
]


@pytest.mark.parametrize("placeholder", ["", "null", "undefined", "  ", " null"])
@pytest.mark.parametrize(("row", "field"), ID_FIELDS,
                         ids=[f"{r.get('event_name', r.get('type'))}.{f}" for r, f in ID_FIELDS])
def test_placeholder_ids_are_rejected(row: dict[str, str], field: str, placeholder: str) -> None:
    exc = reject(raw({**row, field: placeholder}))
    assert exc.reason == "invalid_fields"
    assert field in exc.detail


# the bare select_weapon quirk has no game_id by design
REQUIRED_IDS = [(r, f) for r, f in ID_FIELDS if "type" in r]


@pytest.mark.parametrize(("row", "field"), REQUIRED_IDS,
                         ids=[f"{r.get('event_name', r.get('type'))}.{f}" for r, f in REQUIRED_IDS])
def test_missing_id_fields_are_rejected(row: dict[str, str], field: str) -> None:
    missing = {k: v for k, v in row.items() if k != field}
    exc = reject(raw(missing))
    assert exc.reason == "invalid_fields" and field in exc.detail


def test_self_play_is_rejected() -> None:
    exc = reject(raw(game_over("exrps", P1, P1)))
    assert exc.reason == "invalid_fields"
    assert "self-play" in exc.detail
    assert str(exc).startswith("invalid_fields: ")


def test_missing_type() -> None:
    assert reject(raw({"product_id": "exrps", "game_id": G, "winner_id": P1,
                       "loser_id": P2})).reason == "missing_type"


@pytest.mark.parametrize("kind", ["bogus", "GAME_OVER", "", "game_over "])
def test_unknown_type(kind: str) -> None:
    exc = reject(raw({**game_over("exrps", P1, P2), "type": kind}))
    assert exc.reason == "unknown_type" and repr(kind) in exc.detail


@pytest.mark.parametrize("name", ["dance", "", "Select_Weapon", None])
def test_unknown_or_missing_event_name(name: str | None) -> None:
    row = weapon("0")
    if name is None:
        del row["event_name"]
    else:
        row["event_name"] = name
    assert reject(raw(row)).reason == "unknown_event_name"


@pytest.mark.parametrize("where", ["value", "key", "product_id", "type"])
def test_non_utf8_bytes(where: str) -> None:
    fields = raw(game_over("exrps", P1, P2))
    if where == "value":
        fields[b"winner_id"] = b"\xff\xfe"
    elif where == "key":
        fields[b"\xc3\x28"] = b"x"
    else:
        fields[where.encode()] = b"exrps\x80"
    exc = reject(fields)
    assert exc.reason == "not_utf8"


@pytest.mark.parametrize("entry_id", ["", "abc", "1700000000000", "1700000000000-",
                                      "-0", "1-0-0", "1.5-0", " 1-0", "1-0 ", "1-0\n", "1-*",
                                      "\u0661\u0662-0", "1" * 21 + "-0"])
def test_bad_entry_id(entry_id: str) -> None:
    exc = reject(raw(EXAMPLE[0]), entry_id=entry_id)
    assert exc.reason == "bad_entry_id"


@pytest.mark.parametrize(("row", "field", "limit"), [
    (game_over("exrps", P1, P2), "winner_id", MAX_ID_LEN),
    (game_over("exrps", P1, P2), "loser_id", MAX_ID_LEN),
    (game_over("exrps", P1, P2), "game_id", MAX_ID_LEN),
    (weapon("0"), "user_id", MAX_ID_LEN),
    (weapon("0"), "event_data", MAX_VALUE_LEN),
    (EXAMPLE[2], "event_data", MAX_VALUE_LEN),
    (EXAMPLE[10], "player_id", MAX_ID_LEN),
])
def test_too_long_values(row: dict[str, str], field: str, limit: int) -> None:
    assert parse_entry(EID, raw({**row, field: "a" * limit}))[field] == "a" * limit
    exc = reject(raw({**row, field: "a" * (limit + 1)}))
    assert exc.reason == "invalid_fields" and field in exc.detail


@pytest.mark.parametrize("product", ["", "-exrps", ".x", "ex rps", "ex{rps}", "a:b", "a/b",
                                     "exrps\n", "x" * 65, "caf\u00e9"])
def test_invalid_product_id(product: str) -> None:
    exc = reject(raw({**game_over("exrps", P1, P2), "product_id": product}))
    assert exc.reason == "invalid_fields" and "product_id" in exc.detail


@pytest.mark.parametrize("product", ["x", "X1", "pong_2", "my.game-v2", "a" * 64])
def test_valid_product_ids(product: str) -> None:
    assert parse_entry(EID, raw(game_over(product, P1, P2))).product_id == product


def test_missing_product_id() -> None:
    row = game_over("exrps", P1, P2)
    del row["product_id"]
    exc = reject(raw(row))
    assert exc.reason == "invalid_fields" and "product_id" in exc.detail


def test_decode_fields_is_strict_utf8() -> None:
    assert decode_fields({b"k": "v\u00e9".encode()}) == {"k": "v\u00e9"}
    assert decode_fields({"k": "v"}) == {"k": "v"}
    with pytest.raises(InvalidEvent) as info:
        decode_fields({b"k": b"\xed\xa0\x80"})  # an encoded surrogate is not UTF-8
    assert info.value.reason == "not_utf8"


# --- property: anything either parses or is an InvalidEvent -------------------------------

FIELD_NAMES = [b"product_id", b"game_id", b"type", b"event_name", b"event_data", b"user_id",
               b"new_state", b"progress_event", b"p1_id", b"p2_id", b"round_winner_id",
               b"round_loser_id", b"winner_id", b"loser_id", b"player_id"]
VALUES = [b"exrps", G.encode(), P1.encode(), P2.encode(), b"", b"null", b"undefined",
          b"gameplay", b"game_over", b"state_change", b"player_disconnect", b"game_removed",
          b"select_weapon", b"select_fighter", b"set_ready", b"progression", b"round_started",
          b"round_finished", b"creator_joined", b"0", b"7", b"\xff"]
FIELD_NAMES_STR = {n.decode() for n in FIELD_NAMES}

keys = st.one_of(st.sampled_from(FIELD_NAMES), st.binary(max_size=20))
values = st.one_of(st.sampled_from(VALUES), st.binary(max_size=300),
                   st.text(max_size=200).map(str.encode))
entry_ids = st.one_of(st.just(EID), st.text(max_size=30),
                      st.tuples(st.integers(0, 2**64), st.integers(0, 2**64))
                      .map(lambda t: f"{t[0]}-{t[1]}"))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entry_id=entry_ids, fields=st.dictionaries(keys, values, max_size=10))
def test_random_entries_parse_or_raise_invalid_event(entry_id: str,
                                                     fields: dict[bytes, bytes]) -> None:
    try:
        event = parse_entry(entry_id, fields)
    except InvalidEvent as exc:
        assert exc.reason in {"bad_entry_id", "not_utf8", "missing_type", "unknown_type",
                              "unknown_event_name", "invalid_fields"}
        return
    assert isinstance(event, Event)
    assert event.data == {k.decode(): v.decode() for k, v in fields.items()}
    assert event.time_ms >= 0


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(EXAMPLE), st.dictionaries(
    st.text(min_size=1, max_size=10).filter(lambda k: k not in FIELD_NAMES_STR),
    st.text(max_size=50), max_size=5))
def test_extra_fields_never_change_the_outcome(row: dict[str, str], extra: dict[str, str]) -> None:
    event = parse_entry(EID, raw({**row, **extra}))
    assert dict(event.data) == {**row, **extra}

