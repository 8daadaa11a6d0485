"""The README's "one small class plus one line of configuration" example works as written."""

from __future__ import annotations

import re
import sys
import time
import tomllib
from pathlib import Path

import pytest

from tests.conftest import TEST_PRODUCTS
from tests.support.varcade import EXAMPLE, P1, game_over, raw
from tracker.closing import PeriodResults
from tracker.periods import Period, PeriodKind
from tracker.processing import BatchProcessor
from tracker.products import ConfigError, load_products, parse_products
from tracker.rewards import HookRun, RewardHooks
from tracker.storage import DeadLetters, Store

README = Path(__file__).parents[1] / "README.md"
DASH = "\u2013"  # the en dash of the README's ranges


def block(lang: str, containing: str) -> str:
    blocks = re.findall(rf"```{lang}\n(.*?)```", README.read_text(), re.S)
    return next(b for b in blocks if containing in b)


def test_custom_handler_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: Store,
                                dead_letters: DeadLetters) -> None:
    code = block("python", "class RoundsWon")
    line = next(ln for ln in block("toml", "mygame =").splitlines() if ln.startswith("mygame ="))
    (tmp_path / "mygame").mkdir()
    (tmp_path / "mygame" / "__init__.py").write_text("")
    (tmp_path / "mygame" / "handlers.py").write_text(code)
    config = tmp_path / "products.toml"
    config.write_text(f"[products]\n{line}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("mygame", None)

    products = load_products(config)
    rows = [{**row, "product_id": "mygame"} for row in EXAMPLE]
    entries = [(f"1700000000000-{i}", {k.encode(): v.encode() for k, v in row.items()})
               for i, row in enumerate(rows)]
    BatchProcessor(products, store, dead_letters).process("mygame", "s", entries)
    assert store.player_stats("mygame", P1)["rounds_won"] == 1
    assert store.top("mygame", "wins")[0] == (P1, 1.0)


def test_products_example_is_the_shipped_configuration(tmp_path: Path) -> None:
    config = tmp_path / "products.toml"
    config.write_text(block("toml", "[products]\nexrps"))
    shipped = load_products(Path(__file__).parents[1] / "tracker" / "products.toml")
    documented = load_products(config)
    assert [b for p in documented.values() for b in p.boards] == [
        b for p in shipped.values() for b in p.boards]
    assert documented.queues == shipped.queues


def test_reward_hook_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: Store,
                             dead_letters: DeadLetters) -> None:
    """WeeklyPrizes, as the README writes it, grants last week's three best their prizes."""
    (tmp_path / "mygame").mkdir()
    (tmp_path / "mygame" / "__init__.py").write_text("")
    (tmp_path / "mygame" / "rewards.py").write_text(
        "granted = []\n\ndef grant(user, prize, key):\n    granted.append((user, prize, key))\n")
    (tmp_path / "mygame" / "prizes.py").write_text(block("python", "class WeeklyPrizes"))
    line = next(ln for ln in block("toml", "WeeklyPrizes").splitlines()
                if ln.startswith("mygame ="))
    config = tmp_path / "products.toml"
    config.write_text(f"[products]\n{line}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("mygame", "mygame.prizes", "mygame.rewards"):
        sys.modules.pop(name, None)
    products = load_products(config)

    week = Period.containing(PeriodKind.WEEK, int(time.time() * 1000)).shift(-1)
    at = week.start_ms + 3_600_000
    winners = ["ann", "ann", "ann", "bob", "bob", "cid"]  # eve loses every game
    entries = [(f"{at + i}-0", raw(game_over("mygame", w, "eve")))
               for i, w in enumerate(winners)]
    BatchProcessor(products, store, dead_letters, clock=lambda: at / 1000 + 60).process(
        "mygame", "s", entries)
    results = PeriodResults(store.client)
    assert results.close_due(products["mygame"], int(time.time() * 1000)) == 1
    assert RewardHooks(results, "c1").run(products["mygame"]) == HookRun(called=1)

    from mygame import rewards  # type: ignore[import-not-found]
    (result,) = results.read("mygame")
    assert [(u, p) for u, p, _ in rewards.granted] == [
        ("ann", f"{week.id} #1"), ("bob", f"{week.id} #2"), ("cid", f"{week.id} #3")]
    assert all(key.startswith(f"{result.id}:") for _, _, key in rewards.granted)


def test_every_whole_products_example_loads() -> None:
    """Each ```toml block that is a whole configuration (not a fragment with "…", not a
    bare handler table) is TOML and loads as products, except for the import paths of
    handlers that live in the user's own package."""
    whole = [b for b in re.findall(r"```toml\n(.*?)```", README.read_text(), re.S)
             if "…" not in b and not b.lstrip().startswith("{")]
    assert len(whole) >= 8
    for text in whole:
        config = tomllib.loads(text if text.lstrip().startswith("[") else "[products]\n" + text)
        try:
            parse_products(config)
        except ConfigError as exc:
            assert "cannot import handler" in str(exc), (text, exc)


def test_seasons_example_parses(tmp_path: Path) -> None:
    config = tmp_path / "products.toml"
    config.write_text("[products]\n" + block("toml", "seasons = ["))
    (wins,) = load_products(config)["pong"].boards
    assert wins.periods is not None
    assert [s.id for s in wins.periods.seasons] == ["s1", "s2"]


def test_score_boards_example_is_the_test_configuration(tmp_path: Path) -> None:
    config = tmp_path / "products.toml"
    config.write_text("[products]\n" + block("toml", 'board = "lap"'))
    example = load_products(config)["snake"]
    assert example.boards == load_products(TEST_PRODUCTS)["snake"].boards
    assert [(b.name, b.kind) for b in example.boards] == [
        ("high_score", "best"), ("total", "points"), ("lap", "latest"), ("fastest", "best")]


def test_limits_table_states_the_code_s_limits() -> None:
    from api.config import ApiSettings
    from api.cursors import MAX_CURSOR
    from api.schemas.common import MAX_OFFSET, MAX_PAGE
    from api.schemas.queries import MAX_CUTOFFS
    from api.schemas.userstate import MAX_BLOCK_KEY
    from tracker import clock, events, periods, products
    from tracker.handlers.base import MAX_HISTORY
    from tracker.handlers.scores import MAX_RATE
    from tracker.settings import Settings
    from tracker.storage.seasons import LEAD_MS, MAX_SEASON_MS
    from tracker.subscore import SUBSCORE_LIMIT
    from tracker.tiebreak import SCORE_LIMIT
    from tracker.userstate.client import DEFAULT_HISTORY

    text = README.read_text().split("## Limits\n", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| ([^|]+?) \| ([^|]+?) \|$", text, re.M))

    def n(value: int) -> str:
        return f"{value:,}"

    assert events.PRODUCT_ID_RE.pattern == events.BOARD_NAME_RE.pattern \
        == r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z"
    assert rows["product ids and board names"].startswith(f"1{DASH}64 characters")
    assert f"at most {events.MAX_ID_LEN} characters" == rows["user ids and game ids"]
    assert f"at most {events.MAX_VALUE_LEN} characters" == rows["other event fields"]
    assert events.SCORE_RE.pattern == r"^-?[0-9]{1,15}(\.[0-9]{1,17})?\Z"
    assert "15 digits before the point and 17 after" in rows["submitted scores"]
    assert f"below {n(SCORE_LIMIT)} (2^21)" in rows['scores on a `tie_break = "earliest"` board']
    assert rows["scores and subscores on a board with a `subscore`"] == (
        f"scores: integers of magnitude below {n(SCORE_LIMIT)} (2^21); subscores: integers "
        f"from 0 to {n(events.MAX_SUBSCORE)} (2^32 {chr(0x2212)} 1)")
    assert SUBSCORE_LIMIT == events.MAX_SUBSCORE + 1 == 2**32
    assert rows["score metadata"] == (f"a JSON object of at most {n(events.MAX_METADATA_LEN)} "
                                      f"characters, {events.MAX_METADATA_DEPTH} levels deep")
    assert rows["submissions of a player counted per window (`rate_limit`)"] == (
        f"1{DASH}{n(MAX_RATE[0])} per 1{DASH}{n(MAX_RATE[1])} seconds of event time "
        "(default: no limit)")
    assert rows["tracking-log lines"] == f"at most {n(events.MAX_LOG_LINE_LEN)} characters"
    assert rows["rows per page, window around a player, players per id list, games of a "
                "history read"] == f"1{DASH}{MAX_PAGE}"
    assert rows["page offset"] == f"at most {n(MAX_OFFSET)}"
    assert rows["percentiles per `cutoffs` request"] == f"1{DASH}{MAX_CUTOFFS}"
    assert rows["cursor"] == f"at most {n(MAX_CURSOR)} characters"
    assert rows["kept periods per kind (`keep_periods`)"] == \
        f"1{DASH}{n(periods.MAX_KEEP)} (default 8)"
    assert rows["bucket size (`bucket_size`)"] == f"2{DASH}{n(periods.MAX_BUCKET)} players"
    assert clock.MAX_OFFSET_MS == 14 * 3_600_000
    assert rows["a board's clock (`utc_offset`)"] == \
        "`-14:00` to `+14:00`, in quarter hours (default `+00:00`)"
    assert "time_zone" in products.PERIOD_KEYS and clock.Clock(zone="Europe/Berlin")
    assert rows["a board's time zone (`time_zone`)"] == \
        "an IANA name (`Europe/Berlin`), instead of `utc_offset`"
    assert rows["published standings per closed period (`results_top`)"] == \
        f"0{DASH}{n(periods.MAX_RESULTS)} players (default 10)"
    assert rows["games kept per player on a rating or streak board (`history`)"] == \
        f"0{DASH}{n(MAX_HISTORY)}"
    assert rows["user-state block keys"] == \
        f"at most {n(MAX_BLOCK_KEY)} characters; 1{DASH}{MAX_PAGE} blocks per read"
    assert rows["user-state history"].startswith(f"{DEFAULT_HISTORY} writes")
    assert rows["API requests per client on the data routes"].startswith(
        ApiSettings.rate_limit)
    assert Settings.dedupe_ttl == 0 and "kept for ever" in rows["dedupe records"]
    defaults = load_products_defaults()
    assert defaults == {"keep_periods": 8, "results_top": 10, "grace_seconds": 600}
    assert rows["grace after a period's end (`grace_seconds`)"] == "default 600"
    assert rows["a change to seasons set at run time (`tracker season`)"] == \
        f"at least {LEAD_MS // 1000} s ahead of the data Redis's clock"
    assert rows["a season set at run time"] == f"at most {n(MAX_SEASON_MS // 86_400_000)} days"


def load_products_defaults() -> dict[str, int]:
    """The defaults a handler table's period keys get, as the configuration parses them."""
    from tracker.products import parse_periods

    policy = parse_periods({"periods": ["week"]}, (), "x")
    assert policy is not None
    return {"keep_periods": policy.keep, "results_top": policy.results_top,
            "grace_seconds": policy.grace_ms // 1000}
