"""parse_entry: the Varcade event catalogue (reference §2-§4), its quirks (§3.3) and rejects."""

from __future__ import annotations

import dataclasses

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.varcade import EXAMPLE, P1, P2, G, game_over
from tracker.events import (
    MAX_ID_LEN,
    MAX_VALUE_LEN,
    Event,
    InvalidEvent,
    decode_fields,
    parse_entry,
)

EID = "1700000020003-1"


def raw(fields: dict[str, str]) -> dict[bytes, bytes]:
    """An entry's fields as redis-py returns them (bytes, wire order kept)."""
    return {k.encode(): v.encode() for k, v in fields.items()}


def reject(fields: dict[bytes, bytes] | dict[str, str], entry_id: str = EID) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as info:
        parse_entry(entry_id, fields)
    return info.value


def weapon(value: str, **extra: str) -> dict[str, str]:
    return {"product_id": "exrps", "game_id": G, "type": "gameplay",
            "event_name": "select_weapon", "event_data": value, "user_id": P1, **extra}


# (type, event_name) of each example row, in order (§4).
EXAMPLE_KINDS = [
    ("state_change", None), ("state_change", None), ("gameplay", "select_fighter"),
    ("gameplay", "set_ready"), ("gameplay", "progression"), ("gameplay", "select_weapon"),
    ("gameplay", "select_weapon"), ("gameplay", "progression"), ("game_over", None),
    ("game_removed", None), ("player_disconnect", None),
]


# --- the catalogue --------------------------------------------------------------


@pytest.mark.parametrize(("row", "kind"), list(zip(EXAMPLE, EXAMPLE_KINDS, strict=True)),
                         ids=[f"{i}-{k[1] or k[0]}" for i, k in enumerate(EXAMPLE_KINDS)])
def test_every_example_entry_parses_from_bytes(row: dict[str, str],
                                               kind: tuple[str, str | None]) -> None:
    event = parse_entry(EID, raw(row))
    assert (event.type, event.event_name) == kind
    assert event.product_id == "exrps"
    assert event.game_id == row["game_id"]
    assert event.entry_id == EID
    assert dict(event.data) == row  # every field, decoded, nothing added or lost


def test_entries_read_back_from_a_real_stream_parse(stream: redis.Redis) -> None:
    ids = [stream.xadd("game_event_stream", row) for row in EXAMPLE]  # type: ignore[arg-type]
    rows = stream.xrange("game_event_stream")
    assert [i for i, _ in rows] == ids
    events = [parse_entry(i.decode(), fields) for i, fields in rows]
    assert [(e.type, e.event_name) for e in events] == EXAMPLE_KINDS
    assert [dict(e.data) for e in events] == EXAMPLE
    assert [e.time_ms for e in events] == [int(i.split(b"-")[0]) for i in ids]


def test_round_finished_has_winner_and_loser_before_event_name() -> None:
    row = next(r for r in EXAMPLE if r.get("progress_event") == "round_finished")
    wire = list(row)
    assert wire.index("round_winner_id") < wire.index("event_name")  # the wire order quirk
    event = parse_entry(EID, raw(row))
    assert event.event_name == "progression"
    assert (event["round_winner_id"], event["round_loser_id"]) == (P1, P2)


def test_field_order_does_not_matter() -> None:
    for row in EXAMPLE:
        backwards = dict(reversed(list(raw(row).items())))
        assert dict(parse_entry(EID, backwards).data) == row


@pytest.mark.parametrize("fighter", ["aru", "man", "hog", "rad", "mai"])
def test_select_fighter_characters(fighter: str) -> None:
    event = parse_entry(EID, raw({"product_id": "exrps", "game_id": G, "type": "gameplay",
                                  "event_name": "select_fighter", "event_data": fighter,
                                  "user_id": P2}))
    assert event.event_name == "select_fighter" and event["event_data"] == fighter
    assert event["user_id"] == P2


def test_select_fighter_needs_a_character() -> None:
    exc = reject(raw({"product_id": "exrps", "game_id": G, "type": "gameplay",
                      "event_name": "select_fighter", "event_data": "", "user_id": P1}))
    assert exc.reason == "invalid_fields" and "event_data" in exc.detail


def test_set_ready_with_and_without_event_data() -> None:
    base = {"product_id": "exrps", "game_id": G, "type": "gameplay", "event_name": "set_ready",
            "user_id": P1}
    assert parse_entry(EID, raw({**base, "event_data": ""})).event_name == "set_ready"
    event = parse_entry(EID, raw(base))
    assert event.event_name == "set_ready" and event.get("event_data") is None


@pytest.mark.parametrize("value", ["0", "1", "2", "null", "7", "1.5", "undefined", "true",
                                   " 1", "01", "", "-1"])
def test_select_weapon_accepts_any_index_string(value: str) -> None:
    # the server copies the client's index unchecked (§3.1); handlers decide what it means
    event = parse_entry(EID, raw(weapon(value)))
    assert event.event_name == "select_weapon" and event["event_data"] == value


def test_select_weapon_needs_event_data() -> None:
    row = weapon("0")
    del row["event_data"]
    exc = reject(raw(row))
    assert exc.reason == "invalid_fields" and "event_data" in exc.detail


def test_round_started_and_round_finished() -> None:
    base = {"product_id": "exrps", "game_id": G, "type": "gameplay",
            "event_name": "progression", "p1_id": P1, "p2_id": P2}
    started = parse_entry(EID, raw({**base, "progress_event": "round_started"}))
    assert started["progress_event"] == "round_started"
    finished = parse_entry(EID, raw({"round_winner_id": P2, "round_loser_id": P1, **base,
                                     "progress_event": "round_finished"}))
    assert finished["round_winner_id"] == P2


@pytest.mark.parametrize("missing", ["round_winner_id", "round_loser_id"])
def test_round_finished_needs_its_result(missing: str) -> None:
    row = {"round_winner_id": P1, "round_loser_id": P2, "product_id": "exrps", "game_id": G,
           "type": "gameplay", "event_name": "progression", "progress_event": "round_finished",
           "p1_id": P1, "p2_id": P2}
    del row[missing]
    assert reject(raw(row)).reason == "invalid_fields"


def test_round_finished_with_one_player_as_winner_and_loser_is_rejected() -> None:
    row = {"round_winner_id": P1, "round_loser_id": P1, "product_id": "exrps", "game_id": G,
           "type": "gameplay", "event_name": "progression", "progress_event": "round_finished",
           "p1_id": P1, "p2_id": P2}
    assert reject(raw(row)).reason == "invalid_fields"


@pytest.mark.parametrize(("field", "value"), [("new_state", "exploded"),
                                              ("progress_event", "round_paused")])
def test_unknown_sub_states_are_rejected(field: str, value: str) -> None:
    if field == "new_state":
        row = {"product_id": "exrps", "game_id": G, "type": "state_change", field: value}
    else:
        row = {"product_id": "exrps", "game_id": G, "type": "gameplay",
               "event_name": "progression", field: value, "p1_id": P1, "p2_id": P2}
    exc = reject(raw(row))
    assert exc.reason == "invalid_fields" and field in exc.detail


# --- quirks (§3.3) ---------------------------------------------------------------


def test_bare_select_weapon_fixture_is_accepted() -> None:
    # the original tracker's fixtures: no type, no game_id
    bare = {"event_name": "select_weapon", "event_data": "2", "user_id": P1, "product_id": "exrps"}
    event = parse_entry(EID, raw(bare))
    assert event.type == "gameplay" and event.event_name == "select_weapon"
    assert event.game_id is None and event.product_id == "exrps"
    assert event["event_data"] == "2" and dict(event.data) == bare


def test_bare_select_weapon_with_game_id_keeps_it() -> None:
    event = parse_entry(EID, raw({"product_id": "exrps", "game_id": G,
                                  "event_name": "select_weapon", "event_data": "0",
                                  "user_id": P1}))
    assert event.game_id == G and event.type == "gameplay"


@pytest.mark.parametrize("missing", ["product_id", "user_id", "event_data"])
def test_bare_select_weapon_still_needs_its_fields(missing: str) -> None:
    bare = {"event_name": "select_weapon", "event_data": "2", "user_id": P1, "product_id": "exrps"}
    del bare[missing]
    exc = reject(raw(bare))
    assert exc.reason == "invalid_fields" and missing in exc.detail


def test_bare_entry_of_another_event_name_needs_a_type() -> None:
    exc = reject(raw({"event_name": "select_fighter", "event_data": "aru", "user_id": P1,
                      "product_id": "exrps"}))
    assert exc.reason == "missing_type"


def test_undeclared_fields_are_accepted_and_kept() -> None:
    row = {**game_over("exrps", P1, P2, game_id=G), "season": "7", "x-trace": "abc"}
    event = parse_entry(EID, raw(row))
    assert event.type == "game_over"
    assert event["season"] == "7" and event.get("x-trace") == "abc"
    assert dict(event.data) == row


def test_event_name_on_a_non_gameplay_entry_is_not_a_discriminator() -> None:
    # a game_over carrying a stray event_name must not look like a select_weapon
    row = {**game_over("exrps", P1, P2), "event_name": "select_weapon", "event_data": "0"}
    event = parse_entry(EID, raw(row))
    assert event.type == "game_over" and event.event_name is None
    assert event["event_name"] == "select_weapon"  # still kept in data


def test_str_pairs_are_accepted_too() -> None:
    event = parse_entry(EID, weapon("1"))
    assert event.event_name == "select_weapon" and event["event_data"] == "1"


# --- identity and time -------------------------------------------------------------


@pytest.mark.parametrize(("entry_id", "ms"), [("1700000020003-1", 1700000020003), ("0-0", 0),
                                              ("1-18446744073709551615", 1)])
def test_time_ms_is_the_millisecond_part_of_the_entry_id(entry_id: str, ms: int) -> None:
    event = parse_entry(entry_id, raw(EXAMPLE[0]))
    assert event.entry_id == entry_id and event.time_ms == ms


def test_event_is_immutable_and_hides_data_in_repr() -> None:
    event = parse_entry(EID, raw(EXAMPLE[0]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.type = "game_over"  # type: ignore[misc]
    assert "creator_joined" not in repr(event)
    assert event.get("nope") is None and event.get("nope", "d") == "d"
    with pytest.raises(KeyError):
        event["nope"]


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

