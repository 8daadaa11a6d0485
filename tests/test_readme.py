"""The README's "one small class plus one line of configuration" example works as written."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TEST_PRODUCTS
from tests.support.varcade import EXAMPLE, P1, game_over, raw
from tracker.closing import PeriodResults
from tracker.periods import Period, PeriodKind
from tracker.processing import BatchProcessor
from tracker.products import load_products
from tracker.rewards import HookRun, RewardHooks
from tracker.storage import DeadLetters, Store

README = Path(__file__).parents[1] / "README.md"


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
        ("high_score", "best"), ("total", "points"), ("lap", "latest")]
