"""Hypothesis strategies for stream entries, each with the outcome it must have.

An entry is drawn as a valid Varcade event of some type, then at most one
thing is done to it: a field dropped, a value emptied, replaced by a
placeholder, made huge or made non-UTF-8, an unknown product or type, a
self-play result, extra fields. The strategy knows, independently of the
code under test, whether the result is still valid (``OK``) or which
dead-letter reason it must get. A list may also re-publish an earlier result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from hypothesis import strategies as st

OK = "ok"
PRODUCTS = ("exrps", "pong", "chess")
EVENT_TYPES = ("state_change", "gameplay", "game_over", "player_disconnect", "game_removed")
PLACEHOLDERS = ("", "null", "undefined", "None", "none", " null ", "undefined\t")
ID_FIELDS = ("game_id", "user_id", "winner_id", "loser_id", "player_id", "p1_id", "p2_id",
             "round_winner_id", "round_loser_id")
MAX_ID, MAX_VALUE = 128, 256

Fields = dict[bytes, bytes]


@dataclass(frozen=True)
class Case:
    fields: Fields
    expected: str  # OK or the dead-letter reason
    what: str  # how it was made, for failure messages

    def text(self, name: str) -> str | None:
        value = self.fields.get(name.encode())
        return None if value is None else value.decode("utf-8", "replace")


def _b(row: Mapping[str, str]) -> Fields:
    return {k.encode(): v.encode() for k, v in row.items()}


player_ids = st.from_regex(r"[a-z0-9][a-z0-9-]{0,39}", fullmatch=True).filter(
    lambda s: s not in ("null", "none", "undefined"))
game_ids = st.from_regex(r"[0-9a-f]{32}", fullmatch=True)
any_text = st.text(max_size=40)


# a score's metadata: a JSON object, a little nested
METADATA = st.dictionaries(st.text(max_size=8), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12), lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6), max_size=4)


@st.composite
def valid_events(draw: st.DrawFn, scores: bool = False) -> dict[str, str]:
    """A valid event of any Varcade type, fields in wire order; with ``scores``, score
    submissions (``type = "score"``) too."""
    base = {"product_id": draw(st.sampled_from(PRODUCTS)), "game_id": draw(game_ids)}
    a, b = draw(st.lists(player_ids, min_size=2, max_size=2, unique=True))
    kind = draw(st.sampled_from(["state_change", "select_fighter", "set_ready", "select_weapon",
                                 "round_started", "round_finished", "game_over",
                                 "player_disconnect", "game_removed"]
                                + ["score"] * scores))
    play = {**base, "type": "gameplay"}
    if kind == "score":
        score = draw(st.one_of(st.integers(-10**15 + 1, 10**15 - 1).map(str),
                               st.floats(-1e6, 1e6).map(lambda x: format(x, ".6f"))))
        row = {"product_id": base["product_id"], "type": kind,
               "board": draw(st.sampled_from(["high_score", "laps", "b.2_x-y"])),
               "user_id": a, "score": score}
        if draw(st.booleans()):
            row["metadata"] = json.dumps(draw(METADATA), ensure_ascii=draw(st.booleans()))
        if draw(st.booleans()):
            row["operator"] = draw(st.sampled_from(["best", "latest", "sum"]))
        return {**row, "game_id": base["game_id"]} if draw(st.booleans()) else row
    if kind == "state_change":
        return {**base, "type": kind,
                "new_state": draw(st.sampled_from(["creator_joined", "all_players_joined"]))}
    if kind == "select_fighter":
        return {**play, "event_name": kind,
                "event_data": draw(st.text(min_size=1, max_size=20)), "user_id": a}
    if kind == "set_ready":
        return {**play, "event_name": kind, "event_data": "", "user_id": a}
    if kind == "select_weapon":
        data = draw(st.one_of(st.sampled_from(["0", "1", "2", "null", "7", "1.5", "undefined"]),
                              st.text(max_size=MAX_VALUE)))
        return {**play, "event_name": kind, "event_data": data, "user_id": a}
    if kind == "round_started":
        return {**play, "event_name": "progression", "progress_event": kind,
                "p1_id": a, "p2_id": b}
    if kind == "round_finished":
        return {**play, "round_winner_id": a, "round_loser_id": b, "event_name": "progression",
                "progress_event": kind, "p1_id": a, "p2_id": b}
    if kind == "game_over":
        return {**base, "type": kind, "winner_id": a, "loser_id": b}
    if kind == "player_disconnect":
        return {**base, "type": kind, "player_id": a}
    return {**base, "type": kind}


def _dropped(row: dict[str, str], name: str) -> str:
    """The outcome of ``row`` without field ``name``."""
    if name == "type":
        return OK if row.get("event_name") == "select_weapon" else "missing_type"
    if name == "event_name":
        return "unknown_event_name"
    if name == "event_data" and row.get("event_name") == "set_ready":
        return OK
    return "invalid_fields"


def _emptied(row: dict[str, str], name: str) -> str:
    """The outcome of ``row`` with ``name`` set to ""."""
    if name == "type":
        return "unknown_type"
    if name == "event_name":
        return "unknown_event_name"
    if name == "event_data":
        return "invalid_fields" if row.get("event_name") == "select_fighter" else OK
    return "invalid_fields"  # ids, product_id, new_state, progress_event


def _huge(row: dict[str, str], name: str) -> str | None:
    """The outcome of ``row`` with a value of ``name`` too long; None: nothing to make long."""
    if name in ID_FIELDS or name == "product_id":
        return "invalid_fields"
    if name == "event_data":
        return "invalid_fields"
    return None


@st.composite
def cases(draw: st.DrawFn) -> Case:
    row = draw(valid_events())
    how = draw(st.sampled_from(["valid", "extra", "drop", "empty", "placeholder", "huge",
                                "not_utf8", "unknown_product", "bad_product", "unknown_type",
                                "self_play"]))
    names = [n for n in row if n != "product_id"] or ["product_id"]
    if how == "extra":  # unknown fields are kept but not validated
        extra = draw(st.dictionaries(st.from_regex(r"x_[a-z_]{1,10}", fullmatch=True),
                                     st.text(max_size=2000), min_size=1, max_size=3))
        return Case(_b({**row, **extra}), OK, f"extra fields {sorted(extra)}")
    if how == "drop":
        name = draw(st.sampled_from(list(row)))
        return Case(_b({k: v for k, v in row.items() if k != name}), _dropped(row, name),
                    f"without {name}")
    if how == "empty":
        name = draw(st.sampled_from(list(row)))
        return Case(_b({**row, name: ""}), _emptied(row, name), f"{name} empty")
    if how == "placeholder":
        ids = [n for n in row if n in ID_FIELDS]
        name = draw(st.sampled_from(ids))
        value = draw(st.sampled_from(PLACEHOLDERS))
        return Case(_b({**row, name: value}), "invalid_fields", f"{name}={value!r}")
    if how == "huge":
        name = draw(st.sampled_from(list(row)))
        expected = _huge(row, name)
        if expected is None:
            name, expected = "x_blob", OK  # a huge unknown field is still a valid event
        limit = MAX_VALUE if name == "event_data" else MAX_ID
        size = draw(st.one_of(st.just(limit + 1), st.integers(limit + 1, 100_000)))
        value = (row.get(name, "") + "z" * size)[:size] if name != "product_id" else "p" * size
        return Case(_b({**row, name: value}), expected, f"{name} of {size} characters")
    if how == "not_utf8":
        name = draw(st.sampled_from(names))
        fields = _b(row)
        junk = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80abc"]))
        if draw(st.booleans()):
            fields[name.encode()] = fields[name.encode()] + junk
            return Case(fields, "not_utf8", f"{name} not UTF-8")
        fields[b"x_" + junk] = b"1"
        return Case(fields, "not_utf8", "a field name not UTF-8")
    if how == "unknown_product":
        product = draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True).filter(
            lambda p: p not in PRODUCTS))
        return Case(_b({**row, "product_id": product}), "unknown_product", f"product {product}")
    if how == "bad_product":
        product = draw(st.sampled_from(["exrps\n", " exrps", "a b", "-x", "é", "x" * 65]))
        return Case(_b({**row, "product_id": product}), "invalid_fields", f"product {product!r}")
    if how == "unknown_type":
        kind = draw(any_text.filter(lambda t: t not in EVENT_TYPES))
        return Case(_b({**row, "type": kind}), "unknown_type", f"type {kind!r}")
    if how == "self_play":
        player = draw(player_ids)
        over = {"product_id": row["product_id"], "game_id": row["game_id"], "type": "game_over",
                "winner_id": player, "loser_id": player}
        return Case(_b(over), "invalid_fields", "self-play")
    return Case(_b(row), OK, "valid")


@st.composite
def batches(draw: st.DrawFn, max_size: int = 30) -> list[Case]:
    """Cases in stream order; some valid results are re-published later (same game_id)."""
    out = draw(st.lists(cases(), min_size=1, max_size=max_size))
    results = [c for c in out if c.expected == OK and c.fields.get(b"type") == b"game_over"]
    for original in draw(st.lists(st.sampled_from(results), max_size=3)) if results else []:
        out.append(Case(dict(original.fields), OK, "re-published result"))
    # the first valid result of a (product, game) counts; any later one is a duplicate
    decided: set[tuple[bytes, bytes]] = set()
    for i, case in enumerate(out):
        if case.expected == OK and case.fields.get(b"type") == b"game_over":
            game = (case.fields[b"product_id"], case.fields[b"game_id"])
            if game in decided:
                out[i] = Case(case.fields, "duplicate_result", case.what + ", a second result")
            decided.add(game)
    return out


def expected_wins(batch: list[Case], product: str) -> dict[str, float]:
    """Wins per player from the valid results of ``batch`` (first result per game counts)."""
    wins: dict[str, float] = {}
    games: set[bytes] = set()
    for case in batch:
        f = case.fields
        if case.expected != OK or f.get(b"type") != b"game_over" \
                or f.get(b"product_id") != product.encode() or f[b"game_id"] in games:
            continue
        games.add(f[b"game_id"])
        winner, loser = f[b"winner_id"].decode(), f[b"loser_id"].decode()
        wins[winner] = wins.get(winner, 0) + 1
        wins.setdefault(loser, 0)
    return wins
