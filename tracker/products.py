"""Product configuration: which handlers and which queue serve each product.

Loaded from one TOML file (``TRACKER_PRODUCTS_FILE``); see ``products.toml``
for the format. Adding a product with a custom handler is one line there.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from tracker.clock import UTC_CLOCK, Clock
from tracker.events import BOARD_NAME_RE, PRODUCT_ID_RE
from tracker.handlers import BUILTIN, Board, Handler, TrackingLogs
from tracker.periods import Period, PeriodKind, PeriodPolicy
from tracker.ranking import DEFAULT_TIE_MODE, TieMode
from tracker.tiebreak import TIE_BREAKS, TIMED_KINDS
from tracker.tiers import Tier, parse_tiers

PERIOD_INTEGERS = ("keep_periods", "grace_seconds", "bucket_size", "results_top")
PERIOD_KEYS = frozenset({*PERIOD_INTEGERS, "seasons", "utc_offset", "time_zone"})
UTC_OFFSET_RE = re.compile(r"^([+-])([0-9]{2}):([0-5][0-9])\Z")
BOARD_KEYS = frozenset({"ties", "periods", "tiers", "order", "tie_break"})  # of its boards
PERIODIC_KINDS = frozenset({"points", "best", "latest"})  # made of a period's events alone


class ConfigError(ValueError):
    """The product configuration is invalid; the message says where."""


@dataclass(frozen=True)
class Product:
    id: str
    queue: str
    handlers: tuple[Handler, ...]
    ties: Mapping[str, TieMode] = field(default_factory=dict, hash=False)  # board -> mode
    periods: Mapping[str, PeriodPolicy] = field(default_factory=dict, hash=False)
    tiers: Mapping[str, tuple[Tier, ...]] = field(default_factory=dict, hash=False)
    ascending: frozenset[str] = frozenset()  # boards where the lowest score ranks first
    # POSTed each closed period's results (tracker.rewards), as a reward hook does
    reward_webhook: str | None = None
    earliest: frozenset[str] = frozenset()  # boards where equal scores rank earliest first

    @property
    def boards(self) -> tuple[Board, ...]:
        return tuple(
            dataclasses.replace(board, ties=self.ties.get(board.name, board.ties),
                                periods=self.periods.get(board.name, board.periods),
                                tiers=self.tiers.get(board.name, board.tiers),
                                ascending=board.name in self.ascending,
                                earliest=board.name in self.earliest)
            for h in self.handlers for board in h.boards
        )

    def board(self, name: str) -> Board | None:
        return next((b for b in self.boards if b.name == name), None)

    @functools.cached_property
    def manual_boards(self) -> tuple[str, ...]:
        """Boards whose seasons are set at run time (``seasons = "manual"``)."""
        return tuple(name for name, policy in self.periods.items() if policy.manual)

    def with_seasons(self, seasons: Mapping[str, tuple[Period, ...]]) -> Product:
        """The product with these boards' seasons (their manual calendars, as read)."""
        return dataclasses.replace(self, periods={
            **self.periods, **{name: self.periods[name].with_seasons(calendar)
                               for name, calendar in seasons.items()}})

    @functools.cached_property
    def subscored(self) -> frozenset[str]:
        """Boards that rank equal scores by a subscore (:mod:`tracker.subscore`)."""
        return frozenset(b.name for h in self.handlers for b in h.boards if b.subscore)

    @property
    def reads_course_logs(self) -> bool:
        """Whether the product takes Open edX tracking logs (its course reports follow)."""
        return any(isinstance(h, TrackingLogs) for h in self.handlers)


class Products(Mapping[str, Product]):
    """The configured products, by id, plus the default queue for everything else."""

    def __init__(self, products: Mapping[str, Product], default_queue: str = "default"):
        self._products = dict(products)
        self.default_queue = default_queue

    def __getitem__(self, product_id: str) -> Product:
        return self._products[product_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._products)

    def __len__(self) -> int:
        return len(self._products)

    def queue_for(self, product_id: str) -> str:
        product = self._products.get(product_id)
        return product.queue if product else self.default_queue

    @property
    def queues(self) -> list[str]:
        """Every queue a worker pool should consume, default first."""
        seen = [self.default_queue]
        seen += [p.queue for p in self._products.values() if p.queue not in seen]
        return list(dict.fromkeys(seen))


def resolve_handler_class(name: str) -> type[Handler]:
    if name in BUILTIN:
        return BUILTIN[name]
    if ":" not in name:
        raise ConfigError(
            f"unknown handler {name!r}: use one of {sorted(BUILTIN)} or 'package.module:Class'"
        )
    module_name, _, attr = name.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:  # ValueError: ":Class"
        raise ConfigError(f"cannot import handler {name!r}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Handler)):
        raise ConfigError(f"handler {name!r} is not a tracker.handlers.Handler subclass")
    return cls


def parse_ties(value: Any, where: str) -> TieMode:
    try:
        return TieMode(value)
    except ValueError:
        modes = [m.value for m in TieMode]
        raise ConfigError(f"{where}: ties is one of {modes}, got {value!r}") from None


def parse_periods(spec: Mapping[str, Any], boards: tuple[Board, ...],
                  where: str) -> PeriodPolicy | None:
    """A handler table's ``periods`` (with ``keep_periods``, ``grace_seconds``,
    ``bucket_size``, ``results_top``, ``seasons``, and ``utc_offset`` or ``time_zone``)."""
    if "periods" not in spec:
        if PERIOD_KEYS & spec.keys():
            raise ConfigError(f"{where}: {', '.join(sorted(PERIOD_KEYS))} go with periods")
        return None
    kinds, keep, grace = spec["periods"], spec.get("keep_periods", 8), spec.get(
        "grace_seconds", 600)
    bucket, top = spec.get("bucket_size", 0), spec.get("results_top", 10)
    allowed = [k.value for k in PeriodKind]
    if not (isinstance(kinds, list) and all(k in allowed for k in kinds)):
        raise ConfigError(f"{where}: periods is a list of {allowed}, got {kinds!r}")
    if not all(isinstance(n, int) and not isinstance(n, bool)
               for n in (keep, grace, bucket, top)):
        raise ConfigError(f"{where}: {', '.join(PERIOD_INTEGERS)} are integers")
    clock = parse_clock(spec, where)
    rated = [b.name for b in boards if b.kind not in PERIODIC_KINDS]
    if rated:  # a rating or a streak is not made of a period's events alone
        raise ConfigError(f"{where}: only points, best and latest boards have periods, not "
                          f"{rated}")
    manual = spec.get("seasons") == "manual"  # set at run time: tracker season
    try:
        return PeriodPolicy(tuple(PeriodKind(k) for k in kinds), keep, grace * 1000, bucket,
                            top, () if manual else parse_seasons(spec.get("seasons", []),
                                                                 where, clock),
                            clock=clock, manual=manual)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def parse_clock(spec: Mapping[str, Any], where: str) -> Clock:
    """The clock a handler table's periods follow: its ``utc_offset`` ("+09:00"), its
    ``time_zone`` ("Europe/Berlin"), or UTC."""
    if "utc_offset" in spec and "time_zone" in spec:
        raise ConfigError(f"{where}: utc_offset or time_zone, not both (a time zone has its "
                          "own offsets)")
    zone = spec.get("time_zone")
    if zone is not None and not (isinstance(zone, str) and zone):
        raise ConfigError(f'{where}: time_zone is an IANA name such as "Europe/Berlin", got '
                          f"{zone!r}")
    try:
        if zone is not None:
            return Clock(zone=zone)
        return Clock(parse_utc_offset(spec.get("utc_offset", "+00:00"), where))
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def parse_utc_offset(value: Any, where: str) -> int:
    """A handler table's ``utc_offset`` ("+09:00") in ms east of UTC (its range is
    :class:`~tracker.clock.Clock`'s to check)."""
    m = UTC_OFFSET_RE.match(value) if isinstance(value, str) else None
    if m is None:
        raise ConfigError(f'{where}: utc_offset is "+HH:MM" or "-HH:MM" (such as "+09:00"), '
                          f"got {value!r}")
    return (-1 if m[1] == "-" else 1) * (int(m[2]) * 60 + int(m[3])) * 60_000


def parse_seasons(specs: Any, where: str, clock: Clock = UTC_CLOCK) -> tuple[Period, ...]:
    """A handler table's ``seasons``: ``[{ id = "s1", start = 2026-09-01, end =
    2026-12-01 }, …]`` (dates as TOML dates or ``YYYY-MM-DD`` text, from midnight on the
    board's ``clock``; ``end`` is the first day after the season), or
    instants as TOML offset date-times or their ISO text
    (``start = 2026-12-04T18:00:00Z``; ``end`` is then the first instant after it)."""
    if not isinstance(specs, list):
        raise ConfigError(f"{where}: seasons is a list of {{ id, start, end }}, or \"manual\" "
                          f"(set at run time by tracker season), got {specs!r}")
    seasons = []
    for spec in specs:
        if not isinstance(spec, Mapping) or set(spec) != {"id", "start", "end"}:
            raise ConfigError(f"{where}: a season is {{ id, start, end }}, got {spec!r}")
        try:
            seasons.append(Period.season(str(spec["id"]), _moment(spec["start"]),
                                         _moment(spec["end"]), clock))
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return tuple(seasons)


def _moment(value: Any) -> date:
    """A season's start or end: a date, or a date-time (its offset is checked by
    :meth:`Period.season`)."""
    if isinstance(value, date):
        return value
    if isinstance(value, str):  # ValueError names the text
        return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    raise ValueError(f"a season's start and end are dates (2026-09-01) or date-times with "
                     f"their offset (2026-12-04T18:00:00Z), got {value!r}")


def parse_order(spec: Mapping[str, Any], boards: tuple[Board, ...], where: str) -> bool:
    """Whether a handler table's ``order`` makes its boards ascending (lowest first)."""
    order = spec.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ConfigError(f"{where}: order is 'desc' (highest first) or 'asc' (lowest "
                          f"first), got {order!r}")
    lowest_first: bool = order == "asc"
    # a rating or a streak is better when higher
    rated = [b.name for b in boards
             if (lowest_first or b.ascending) and b.kind not in PERIODIC_KINDS]
    if rated:
        raise ConfigError(f"{where}: only points, best and latest boards can be ascending, not "
                          f"{rated}")
    return lowest_first


def parse_tie_break(value: Any, boards: tuple[Board, ...], where: str, *,
                    strict: bool) -> set[str]:
    """The boards that a ``tie_break`` setting makes break ties by time (earliest first).

    ``strict`` (a handler's table): asking it of boards that cannot is an error; a
    product's or the default setting applies to the boards that can (not ratings)."""
    if value not in TIE_BREAKS:
        raise ConfigError(f"{where}: tie_break is one of {list(TIE_BREAKS)}, got {value!r}")
    if value != "earliest":
        return set()
    untimed = [b.name for b in boards if b.kind not in TIMED_KINDS or b.subscore]
    if strict and untimed:
        raise ConfigError(f"{where}: only points, best, latest and streak boards without a "
                          f"subscore can break ties by time, not {untimed}")
    return {b.name for b in boards if b.kind in TIMED_KINDS and not b.subscore}


def build_handler(spec: Any, where: str) -> Handler:
    """The handler a spec names; a table's ``ties``, periods, tiers and ``order`` are for
    its boards, not the handler."""
    if isinstance(spec, str):
        return resolve_handler_class(spec)()
    if isinstance(spec, dict) and isinstance(spec.get("use"), str):
        params = {k: v for k, v in spec.items()
                  if k not in {"use"} | BOARD_KEYS | PERIOD_KEYS}
        try:
            return resolve_handler_class(spec["use"])(**params)
        except (TypeError, ValueError) as exc:  # unknown keyword, or a value the class rejects
            raise ConfigError(f"{where}: bad parameters for {spec['use']!r}: {exc}") from exc
    raise ConfigError(f"{where}: a handler is a name or a table with 'use', got {spec!r}")


def parse_products(config: Mapping[str, Any]) -> Products:
    default = config.get("default", {})
    if not isinstance(default, Mapping):
        raise ConfigError(f"default: expected a table, got {default!r}")
    default_queue = str(default.get("queue", "default"))
    default_handlers = default.get("handlers", ["wins", "player_stats"])
    default_ties = parse_ties(default.get("ties", DEFAULT_TIE_MODE), "default")
    default_tie_break = default.get("tie_break", "member")
    parse_tie_break(default_tie_break, (), "default", strict=False)
    if not isinstance(default_handlers, list | tuple):
        raise ConfigError(f"default.handlers: expected a list, got {default_handlers!r}")
    section = config.get("products", {})
    if not isinstance(section, Mapping):
        raise ConfigError(f"products: expected a table, got {section!r}")
    products: dict[str, Product] = {}
    for product_id, entry in section.items():
        where = f"products.{product_id}"
        if not PRODUCT_ID_RE.match(product_id):
            raise ConfigError(f"{where}: product ids are 1-64 of [A-Za-z0-9_.-]")
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a table, got {entry!r}")
        specs = entry.get("handlers", default_handlers)
        if not isinstance(specs, list | tuple):
            raise ConfigError(f"{where}.handlers: expected a list, got {specs!r}")
        handlers = tuple(build_handler(s, f"{where}.handlers") for s in specs)
        names = [b.name for h in handlers for b in h.boards]
        if len(names) != len(set(names)):
            raise ConfigError(f"{where}: two handlers write the same board ({names})")
        bad = [n for n in names if not isinstance(n, str) or not BOARD_NAME_RE.match(n)]
        if bad:
            raise ConfigError(f"{where}: board names are 1-64 of [A-Za-z0-9_.-], got {bad}")
        product_ties = parse_ties(entry.get("ties", default_ties), where)
        product_tie_break = entry.get("tie_break", default_tie_break)
        ties: dict[str, TieMode] = {}
        periods: dict[str, PeriodPolicy] = {}
        tiers: dict[str, tuple[Tier, ...]] = {}
        ascending: set[str] = set()
        earliest: set[str] = set()
        for spec, handler in zip(specs, handlers, strict=True):
            mode = product_ties
            # a handler may declare its boards ascending; a table's order = "asc" makes them so
            table = spec if isinstance(spec, dict) else {}
            at = f"{where}.handlers.{table.get('use', spec)}"
            lowest_first = parse_order(table, handler.boards, at)
            lowest = {b.name for b in handler.boards if lowest_first or b.ascending}
            ascending |= lowest
            earliest |= parse_tie_break(table.get("tie_break", product_tie_break),
                                        handler.boards, at, strict="tie_break" in table)
            if isinstance(spec, dict):
                if "ties" in spec:
                    mode = parse_ties(spec["ties"], at)
                policy = parse_periods(spec, handler.boards, at)
                if policy is not None:
                    periods.update((b.name, policy) for b in handler.boards)
                if "tiers" in spec:
                    try:
                        bands = parse_tiers(spec["tiers"], ascending=bool(lowest))
                    except ValueError as exc:
                        raise ConfigError(f"{at}: {exc}") from None
                    if any(b.subscore for b in handler.boards) and any(
                            t.cutoff is not None and t.cutoff[0] == "score" for t in bands):
                        raise ConfigError(f"{at}: a board with a subscore takes tiers by "
                                          f"rank or percent, not by score")
                    tiers.update((b.name, bands) for b in handler.boards)
            ties.update((b.name, mode) for b in handler.boards)
        products[product_id] = Product(
            product_id, str(entry.get("queue", default_queue)), handlers, ties, periods, tiers,
            frozenset(ascending), parse_webhook(entry.get("reward_webhook"), where),
            frozenset(earliest))
    return Products(products, default_queue)


def parse_webhook(url: object, where: str) -> str | None:
    """A product's ``reward_webhook``: an http(s) URL, or absent."""
    if url is None:
        return None
    if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+", url):
        raise ConfigError(f"{where}.reward_webhook: expected an http(s) URL, got {url!r}")
    return url


def load_products(path: str | Path) -> Products:
    try:
        with open(path, "rb") as fh:
            config = tomllib.load(fh)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read product configuration {path}: {exc}") from exc
    return parse_products(config)
