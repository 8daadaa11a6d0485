"""The benchmark's events: whole Varcade matches of four products, interleaved.

Matches come from the demo generator (:mod:`tracker.demo`), so the mix of
event types is what a game server really writes: per finished match about
thirty entries (state changes, fighter picks, round progressions, weapon
pairs) and one ``game_over``. Matches of the other products are the same
matches relabelled with their ``product_id`` and their own player pool.

:func:`expected` computes, without Redis, marshmallow or Celery, what the
boards and stats must hold after the workload: the independent count every
scenario is checked against.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgpack

from tracker.demo import Traffic, player_pool
from tracker.events import Event
from tracker.handlers import EloResult, EnsureOnBoard, IncrScore, IncrStat
from tracker.products import Products, load_products

PRODUCTS_FILE = Path(__file__).with_name("products.toml")
# Share of the events per product (exrps, with Elo and weapon stats, the largest).
MIX: dict[str, float] = {"exrps": 0.4, "pong": 0.2, "chess": 0.2, "tanks": 0.2}
PLAYERS_PER_PRODUCT = 500

Entry = dict[str, str]


def bench_products() -> Products:
    return load_products(PRODUCTS_FILE)


def _product_entries(product: str, count: int, seed: int) -> list[Entry]:
    rng = random.Random(f"{product}/{seed}")
    pool = player_pool(PLAYERS_PER_PRODUCT, seed=rng.randrange(2**32))
    traffic = Traffic(rng, pool, concurrency=8,
                      game_ids=lambda: f"{rng.getrandbits(128):032x}")
    out: list[Entry] = []
    for entry in traffic.entries():
        if len(out) >= count:
            break
        entry = dict(entry)
        entry["product_id"] = product
        out.append(entry)
    return out


def generate(total: int, seed: int = 1, mix: Mapping[str, float] = MIX) -> list[Entry]:
    """``total`` entries, products interleaved at random in the shares of ``mix``."""
    names = list(mix)
    weights = [mix[n] for n in names]
    counts = [int(total * w / sum(weights)) for w in weights]
    counts[0] += total - sum(counts)
    streams = {n: _product_entries(n, c, seed) for n, c in zip(names, counts, strict=True)}
    labels = [n for n, c in zip(names, counts, strict=True) for _ in range(c)]
    random.Random(seed).shuffle(labels)
    cursors = dict.fromkeys(names, 0)
    out: list[Entry] = []
    for name in labels:
        out.append(streams[name][cursors[name]])
        cursors[name] += 1
    return out


def marker_game_over(index: int, game_id: str) -> Entry:
    """A ``game_over`` whose winner appears on the exrps board only through it."""
    return {"product_id": "exrps", "game_id": game_id, "type": "game_over",
            "winner_id": f"marker-{index:07d}", "loser_id": f"marker-loser-{index:07d}"}


def with_markers(entries: Sequence[Entry], every: int, seed: int = 1) -> tuple[list[Entry], int]:
    """Every ``every``-th entry replaced by a marker game_over; returns (entries, markers)."""
    rng = random.Random(f"markers/{seed}")
    out = list(entries)
    n = 0
    for i in range(every - 1, len(out), every):
        out[i] = marker_game_over(n, f"{rng.getrandbits(128):032x}")
        n += 1
    return out, n


def to_wire(entries: Iterable[Entry]) -> list[list[bytes]]:
    """Flat ``[field, value, ...]`` byte lists, in wire order (what XADD sends)."""
    return [[s.encode() for kv in e.items() for s in kv] for e in entries]


def save(entries: Iterable[Entry], path: Path) -> None:
    path.write_bytes(msgpack.packb(to_wire(entries), use_bin_type=True))


def load_wire(path: Path) -> list[list[bytes]]:
    rows: list[list[bytes]] = msgpack.unpackb(path.read_bytes(), raw=True)
    return rows


# --- the independent count ------------------------------------------------------


def light_event(entry_id: str, data: Mapping[str, str]) -> Event:
    """An Event without validation (the workload is valid by construction)."""
    return Event(entry_id=entry_id, product_id=data.get("product_id", ""),
                 type=data.get("type", ""), game_id=data.get("game_id"),
                 event_name=data.get("event_name"), data=data)


@dataclass
class Expected:
    """What Redis must hold after the workload, per product."""

    applied: Counter[str] = field(default_factory=Counter)  # entries with storage ops
    game_overs: Counter[str] = field(default_factory=Counter)
    board_sums: defaultdict[tuple[str, str], float] = field(  # points boards
        default_factory=lambda: defaultdict(float))
    elo: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)  # players, start
    stat_sums: Counter[tuple[str, str]] = field(default_factory=Counter)  # (product, stat)

    @property
    def total_applied(self) -> int:
        return sum(self.applied.values())


def expected(entries: Iterable[Entry], products: Products) -> Expected:
    exp = Expected()
    elo_players: dict[tuple[str, str], set[str]] = {}
    elo_start: dict[tuple[str, str], float] = {}
    for i, data in enumerate(entries):
        product = products.get(data.get("product_id", ""))
        if product is None:
            continue
        if data.get("type") == "game_over":
            exp.game_overs[product.id] += 1
        event = light_event(f"1-{i}", data)
        any_op = False
        for handler in product.handlers:
            for op in handler.ops(event):
                any_op = True
                if isinstance(op, IncrScore):
                    exp.board_sums[(product.id, op.board)] += op.delta
                elif isinstance(op, EnsureOnBoard):
                    exp.board_sums[(product.id, op.board)] += 0.0
                elif isinstance(op, IncrStat):
                    exp.stat_sums[(product.id, op.stat)] += op.delta
                elif isinstance(op, EloResult):
                    key = (product.id, op.board)
                    elo_players.setdefault(key, set()).update((op.winner, op.loser))
                    elo_start[key] = op.start
        if any_op:
            exp.applied[product.id] += 1
    exp.elo = {k: (len(v), elo_start[k]) for k, v in elo_players.items()}
    return exp
