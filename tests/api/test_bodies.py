"""The hot routes' fast paths give exactly what the slow ones gave.

* :mod:`api.bodies` builds the same dicts as the marshmallow schemas' ``dump``;
* :mod:`api.jsonbody` writes the same bytes as Flask's ``jsonify``;
* the query cache of :mod:`api.params` answers as a fresh load would;
* :meth:`ApiState.find_board` finds what ``Product.board`` finds.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import json
import math
import uuid
from collections.abc import Sequence
from typing import Any

import flask
import pytest
from flask import jsonify
from hypothesis import example, given, settings
from hypothesis import strategies as st

from api import bodies, params
from api.jsonbody import dumps, json_response
from api.schemas import AroundSchema, EntrySchema, PageSchema, StandingSchema, TopEntrySchema
from api.state import EXTENSION, ApiState
from tests.api.conftest import MakeApp
from tests.conftest import TEST_PRODUCTS
from tracker.products import load_products
from tracker.ranking import Record, Slice, Standing, TieMode
from tracker.tiers import Tier, parse_tiers, tier_of

UUIDS = ["f47ac10b-58cc-4372-a567-0e02b2c3d479", "9c5b94b1-35ad-49bb-b118-8e8fc24abf80"]
# Ties, negative and fractional scores, non-ASCII ids, a tiny and a huge score.
ROWS = [(UUIDS[0], 1500.5), (UUIDS[1], 1500.5), ("zoë", 12.0), ("ann", 12.0),
        ("李", 0.0), ("bob", -3.25), ("tiny", -1e-07), ("cid", -1e16)]
SLICES = [
    Slice(size=8, start=0, above=0, dense_above=0, rows=ROWS),
    Slice(size=1_000_000, start=41, above=37, dense_above=5, rows=ROWS[2:5]),
    Slice(size=0, start=0, above=0, dense_above=0, rows=[]),
]
PERIODS = [None, "2026-W48"]


def ref(period: str | None) -> dict[str, str]:
    """A body's period: absent when the all-time board was read."""
    return {} if period is None else {"period": period}


STANDINGS = [
    Standing(UUIDS[0], 1500.5, ordinal=2, above=0, dense_above=0, below=6, size=8),
    Standing("zoë", 12.0, ordinal=4, above=2, dense_above=1, below=4, size=8),
    Standing("last", -2.0, ordinal=3, above=2, dense_above=2, below=0, size=3),
    Standing("deep", 7.0, ordinal=999_990, above=999_980, dense_above=41, below=1, size=10**7),
]


@pytest.mark.parametrize("ties", list(TieMode))
@pytest.mark.parametrize("window", SLICES)
@pytest.mark.parametrize("cursor", [None, "WyJleHJwcyIsIndpbnMiLDEyLjAsImFubiJd"])
@pytest.mark.parametrize("period", PERIODS)
def test_page_body_is_the_schema_dump(ties: TieMode, window: Slice, cursor: str | None,
                                      period: str | None) -> None:
    fast = bodies.page("exrps", "wins", period, ties, window, cursor)
    slow = PageSchema().dump({
        "product_id": "exrps", "board": "wins", **ref(period), "ties": ties,
        "size": window.size,
        "offset": window.start, "entries": window.ranked(ties), "next_cursor": cursor})
    assert fast == slow
    assert list(fast) == list(slow)  # the same key order, so the same JSON text
    assert [list(e) for e in fast["entries"]] == [list(e) for e in slow["entries"]]
    assert type(fast["ties"]) is str


@pytest.mark.parametrize("window", SLICES)
def test_a_page_with_a_previous_one_is_the_schema_dump(window: Slice) -> None:
    cursors = {"next_cursor": None, "prev_cursor": "WyJleHJwcyIsIndpbnMiLDEyLjAsImFubiJd"}
    fast = bodies.page("exrps", "wins", None, TieMode.DENSE, window, **cursors)
    slow = PageSchema().dump({
        "product_id": "exrps", "board": "wins", "ties": TieMode.DENSE, "size": window.size,
        "offset": window.start, "entries": window.ranked(TieMode.DENSE), **cursors})
    assert fast == slow and list(fast) == list(slow)


@pytest.mark.parametrize("ties", list(TieMode))
@pytest.mark.parametrize("found", STANDINGS)
@pytest.mark.parametrize("period", PERIODS)
def test_standing_body_is_the_schema_dump(ties: TieMode, found: Standing,
                                          period: str | None) -> None:
    fast = bodies.standing("chess", "elo", period, ties, found)
    slow = StandingSchema().dump({
        "product_id": "chess", "board": "elo", **ref(period), "ties": ties,
        "size": found.size,
        "user_id": found.user_id, "score": found.score, "rank": found.rank(ties),
        "percentile": found.percentile})
    assert fast == slow
    assert list(fast) == list(slow)


@pytest.mark.parametrize("ties", list(TieMode))
@pytest.mark.parametrize("window", SLICES)
@pytest.mark.parametrize("period", PERIODS)
def test_around_body_is_the_schema_dump(ties: TieMode, window: Slice,
                                        period: str | None) -> None:
    fast = bodies.around("exrps", "elo", period, ties, "zoë", window)
    slow = AroundSchema().dump({
        "product_id": "exrps", "board": "elo", **ref(period), "ties": ties,
        "size": window.size,
        "user_id": "zoë", "offset": window.start, "entries": window.ranked(ties)})
    assert fast == slow
    assert list(fast) == list(slow)
    assert bodies.entries(window, ties) == EntrySchema(many=True).dump(window.ranked(ties))


def test_a_standing_with_a_skill_is_the_schema_dump() -> None:
    found = dataclasses.replace(STANDINGS[1], rating=(("mu", 27.5), ("sigma", 7.25)))
    fast = bodies.standing("darts", "openskill", None, TieMode.DENSE, found, TIERS, "skill")
    slow = StandingSchema().dump({
        "product_id": "darts", "board": "openskill", "ties": TieMode.DENSE,
        "size": found.size, "user_id": found.user_id, "score": found.score,
        "rank": found.rank(TieMode.DENSE), "percentile": found.percentile,
        "tier": tier_of(TIERS, found.score, found.above + 1, found.size),
        "skill": {"mu": 27.5, "sigma": 7.25}})
    assert fast == slow and list(fast) == list(slow)


TIERS = parse_tiers([{"name": "top", "rank": 1}, {"name": "high", "score": 12},
                     {"name": "half", "percent": 50}, {"name": "rest"}])


@pytest.mark.parametrize("ties", list(TieMode))
@pytest.mark.parametrize("window", SLICES)
def test_bodies_with_tiers_are_the_schema_dumps(ties: TieMode, window: Slice) -> None:
    competition = [e.rank for e in window.ranked(TieMode.COMPETITION)]
    rows = [{"rank": e.rank, "user_id": e.user_id, "score": e.score,
             "tier": tier_of(TIERS, e.score, c, window.size)}
            for e, c in zip(window.ranked(ties), competition, strict=True)]
    fast = bodies.page("exrps", "wins", None, ties, window, None, TIERS)
    slow = PageSchema().dump({"product_id": "exrps", "board": "wins", "ties": ties,
                              "size": window.size, "offset": window.start, "entries": rows,
                              "next_cursor": None})
    assert fast == slow and [list(e) for e in fast["entries"]] == [list(e) for e in rows]
    fast = bodies.around("exrps", "wins", "2026-11", ties, "zoë", window, TIERS)
    assert fast["entries"] == AroundSchema().dump({"entries": rows})["entries"]
    for found in STANDINGS:
        fast = bodies.standing("chess", "elo", None, ties, found, TIERS)
        slow = StandingSchema().dump({
            "product_id": "chess", "board": "elo", "ties": ties, "size": found.size,
            "user_id": found.user_id, "score": found.score, "rank": found.rank(ties),
            "percentile": found.percentile,
            "tier": tier_of(TIERS, found.score, found.above + 1, found.size)})
        assert fast == slow and list(fast) == list(slow)


@pytest.mark.parametrize("ties", list(TieMode))
@pytest.mark.parametrize("tiers", [(), TIERS])
def test_bodies_with_records_are_the_schema_dumps(ties: TieMode, tiers: Sequence[Tier]
                                                  ) -> None:
    texts = ['{"car": "red", "laps": [61.5, 1e-07]}', None, '{"name": "Zoë", "n": {"x": null}}',
             "{}", None, '{"big": 123456789012345678901234567890}', None, None]
    kept = [None if i == 4 else Record(i + 1, 1_764_000_000_000 + i, 1_764_100_000_000 + i, t)
            for i, t in enumerate(texts)]  # (a member written before records were kept)
    window = dataclasses.replace(SLICES[0], records=kept)
    plain = {(e["user_id"], e["rank"]): e for e in bodies.entries(SLICES[0], ties, tiers)}
    rows = [{**plain[e.user_id, e.rank],
             **({} if r is None else {"submissions": r.submissions, "first_at": r.first_at,
                                      "last_at": r.last_at}),
             **({} if t is None else {"metadata": json.loads(t)})}
            for e, r, t in zip(window.ranked(ties), kept, texts, strict=True)]
    fast = bodies.page("snake", "high_score", None, ties, window, None, tiers)
    slow = PageSchema().dump({"product_id": "snake", "board": "high_score", "ties": ties,
                              "size": window.size, "offset": window.start, "entries": rows,
                              "next_cursor": None})
    assert fast == slow and [list(e) for e in fast["entries"]] == [list(e) for e in rows]
    assert fast["entries"][0]["metadata"] == {"car": "red", "laps": [61.5, 1e-07]}
    assert "metadata" not in fast["entries"][1] and "submissions" not in fast["entries"][4]
    for found in STANDINGS:
        found = dataclasses.replace(found, record=kept[0])
        fast = bodies.standing("snake", "high_score", None, ties, found, tiers)
        slow = StandingSchema().dump({
            "product_id": "snake", "board": "high_score", "ties": ties, "size": found.size,
            "user_id": found.user_id, "score": found.score, "rank": found.rank(ties),
            "percentile": found.percentile,
            **({"tier": bodies.player_tier(tiers, found)} if tiers else {}),
            "submissions": 1, "first_at": 1_764_000_000_000, "last_at": 1_764_100_000_000,
            "metadata": json.loads(texts[0] or "")})
        assert fast == slow and list(fast) == list(slow)


@pytest.mark.parametrize("rows", [ROWS, ROWS[:1], []])
def test_top_entries_body_is_the_schema_dump(rows: list[tuple[str, float]]) -> None:
    fast = bodies.top_entries(rows)
    slow = TopEntrySchema(many=True).dump([{"user_id": u, "score": s} for u, s in rows])
    assert fast == slow
    assert [list(e) for e in fast] == [list(e) for e in slow]


# --- the JSON bytes --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bare_app() -> flask.Flask:
    """An app as create_app configures JSON (key order kept); no Redis needed."""
    app = flask.Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    return app


def flask_bytes(app: flask.Flask, obj: Any) -> bytes:
    with app.app_context():
        return jsonify(obj).get_data()


def fast_bytes(app: flask.Flask, obj: Any) -> bytes:
    with app.app_context():
        response = json_response(obj)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/json"
        return response.get_data()


def representative_bodies() -> list[Any]:
    found = STANDINGS
    return ([bodies.page("exrps", "wins", p, t, w, "abc")
             for p in PERIODS for t in TieMode for w in SLICES]
            + [bodies.standing("chess", "elo", None, t, s) for t in TieMode for s in found]
            + [bodies.around("exrps", "elo", "2026-11", t, "zoë", w)
               for t in TieMode for w in SLICES]
            + [bodies.page("darts", "wins", None, t, w, None, TIERS)
               for t in TieMode for w in SLICES]
            + [bodies.top_entries(ROWS), bodies.top_entries([])])


@pytest.mark.parametrize("body", representative_bodies())
def test_json_response_writes_the_bytes_of_jsonify(bare_app: flask.Flask, body: Any) -> None:
    assert fast_bytes(bare_app, body) == flask_bytes(bare_app, body)


@pytest.mark.parametrize("value", [
    1e-05, -1.5e-05, 1e-07, 4.8e-06, 1e-10, 1e-4, 1e16, 1e22, -0.0, 5e-324, 1.7976931348623157e308,
    math.inf, -math.inf, math.nan, 2**64, -(2**63) - 1, "é", "\u2028", "日本", "e-5,", "0.0000",
])
def test_what_orjson_writes_otherwise_takes_flasks_way(bare_app: flask.Flask,
                                                      value: Any) -> None:
    body = {"user_id": "x", "score": value, "rows": [value]}
    assert fast_bytes(bare_app, body) == flask_bytes(bare_app, body)


@dataclasses.dataclass
class Point:
    x: int


@pytest.mark.parametrize("value", [
    TieMode.DENSE, Point(3), datetime.date(2024, 5, 1), datetime.datetime(2024, 5, 1, 12, 30),
    decimal.Decimal("1.50"), uuid.UUID(int=7), {"a": (1, 2)}, {1: "x"}, True, None, [],
])
def test_types_flask_writes_its_own_way(bare_app: flask.Flask, value: Any) -> None:
    body = {"value": value}
    assert fast_bytes(bare_app, body) == flask_bytes(bare_app, body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
@example({"\x7f": False})  # DEL is ASCII, yet Python escapes it (found by this test)
def test_json_bytes_match_jsonify_for_any_value(value: Any) -> None:
    app = flask.Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    assert fast_bytes(app, value) == flask_bytes(app, value)


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_orjson_is_used_only_where_it_agrees(value: float) -> None:
    """The fast path is taken for every float it writes the same way (not only the fallback)."""
    app = flask.Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    fast = dumps({"score": value})
    if fast is not None:
        assert fast == flask_bytes(app, {"score": value})
    if value == 0 or abs(value) >= 1e-4:
        assert fast is not None  # ordinary scores never need the fallback


@settings(max_examples=300, deadline=None)
@given(st.lists(st.uuids(), min_size=1, max_size=11))
def test_uuid_pages_take_the_fast_path(ids: list[uuid.UUID]) -> None:
    """Varcade's user ids are UUIDs: text like "4c1e-8b0a" in them is no exponent."""
    rows = [(str(u), 9.0) for u in ids]
    body = bodies.around("exrps", "wins", None, TieMode.COMPETITION, rows[0][0],
                         Slice(size=50, start=3, above=3, dense_above=1, rows=rows))
    assert dumps(body) is not None
    assert dumps({"user_id": "f47ac10b-58cc-4c1e-8b0a-0e02b2c3d479"}) is not None


def test_debug_mode_keeps_flasks_indented_json(bare_app: flask.Flask) -> None:
    app = flask.Flask(__name__)
    app.debug = True
    body = bodies.top_entries(ROWS[:2])
    assert fast_bytes(app, body) == flask_bytes(app, body)
    assert b"\n  " in fast_bytes(app, body)


# --- the query cache and the board lookup ----------------------------------------------------

def test_cached_queries_answer_as_fresh_loads(make_app: MakeApp) -> None:
    client = make_app().test_client()
    base = "/products/exrps/boards/wins"
    for _ in range(3):  # a miss, then hits
        assert client.get(f"{base}/entries?limit=2&ties=dense").get_json()["ties"] == "dense"
        assert client.get(f"{base}/entries?limit=2").get_json()["ties"] == "competition"
        bad = client.get(f"{base}/entries?limit=0")
        assert bad.status_code == 422
        assert bad.get_json()["error"] == "invalid_query"
        assert "limit" in bad.get_json()["errors"]
        both = client.get(f"{base}/entries?limit=2&offset=1&cursor=WyJleHJwcyJd")
        assert both.status_code == 422
        many = "&".join(f"user_id={u}-{i}" for i in range(20) for u in UUIDS)
        listed = client.get(f"{base}/players?{many}&ties=dense").get_json()
        assert len(listed["missing"]) == 40 and listed["ties"] == "dense"
    assert not any(len(query) > params.MAX_CACHED_QUERY for _, query in params._loaded)
    assert any(query == b"limit=2&ties=dense" for _, query in params._loaded)


def test_find_board_is_product_board(make_app: MakeApp) -> None:
    state: ApiState = make_app().extensions[EXTENSION]
    products = load_products(str(TEST_PRODUCTS))
    for product in products.values():
        for name in [b.name for b in product.boards] + ["nope"]:
            assert state.find_board(product.id, name) == product.board(name)
    chess = state.find_board("chess", "elo")
    assert chess is not None and chess.ties is TieMode.DENSE
