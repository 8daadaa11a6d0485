"""parse_entry: the Varcade event catalogue (reference §2-§4), its quirks (§3.3), an event's
identity and time. Rejects and their reasons: test_event_rejects.py."""

from __future__ import annotations

import dataclasses

import pytest
import redis

from tests.support.varcade import EID, EXAMPLE, P1, P2, G, game_over, raw, reject, weapon
from tracker.events import parse_entry

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
