"""What the views share: settings, products, the store and rank reads, kept on the app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import redis
from flask import current_app

from api.auth import Authenticator
from api.config import ApiSettings
from api.errors import ApiError
from tracker.closing import PeriodResults
from tracker.events import MAX_ID_LEN
from tracker.handlers import Board
from tracker.manual_seasons import ManualSeasons
from tracker.products import Product, Products
from tracker.settings import Settings
from tracker.storage import Keys, Ranks, Store
from tracker.userstate import UserStateClient

EXTENSION = "stats_tracker"


@dataclass(frozen=True)
class ApiState:
    settings: Settings
    products: Products
    api: ApiSettings
    auth: Authenticator
    # Makes this process's Redis client, at its first request: building the
    # app needs no Redis, and a client made before gunicorn forks is not shared.
    connect: Callable[[], redis.Redis]
    _redis: list[tuple[Store, Ranks]] = field(default_factory=list, init=False, repr=False,
                                              compare=False)
    _user_states: list[UserStateClient] = field(default_factory=list, init=False, repr=False,
                                                compare=False)
    _period_results: list[PeriodResults] = field(default_factory=list, init=False,
                                                 repr=False, compare=False)
    _seasons: list[ManualSeasons] = field(default_factory=list, init=False, repr=False,
                                          compare=False)
    # product id -> its product with the seasons last read, and that product's boards by name
    _current_boards: dict[str, tuple[Product, dict[str, Board]]] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    # (product, board) -> board with its tie mode. Product.board() rebuilds the
    # product's boards on every call; the configuration never changes while the
    # app runs, so the hot routes look boards up here instead.
    _boards: dict[tuple[str, str], Board] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # reversed: of two boards with one name, the first wins, as in Product.board;
        # boards whose seasons are set at run time are looked up afresh (current())
        boards = {(p.id, b.name): b for p in self.products.values() for b in reversed(p.boards)
                  if b.name not in p.manual_boards}
        object.__setattr__(self, "_boards", boards)  # a frozen dataclass

    def _reads(self) -> tuple[Store, Ranks]:
        if not self._redis:  # a failed connect raises (503) and is tried again next time
            client = self.connect()
            keys = Keys(self.settings.key_prefix)
            self._redis.append((Store(client, keys), Ranks(client, keys)))
        return self._redis[0]

    @property
    def store(self) -> Store:
        return self._reads()[0]

    @property
    def ranks(self) -> Ranks:
        return self._reads()[1]

    @property
    def user_states(self) -> UserStateClient:
        """The user-state store, on this process's connection (reads only)."""
        if not self._user_states:
            self._user_states.append(UserStateClient(self.store.client))
        return self._user_states[0]

    @property
    def period_results(self) -> PeriodResults:
        """Closed periods' results and archives, on this process's connection (reads)."""
        if not self._period_results:
            self._period_results.append(PeriodResults(self.store.client, self.store.keys))
        return self._period_results[0]

    def current(self, product: Product) -> Product:
        """``product`` with the seasons of its boards set at run time, read again every few
        seconds (a change takes effect a lead after it is made: tracker.storage.seasons)."""
        if not product.manual_boards:
            return product
        if not self._seasons:
            self._seasons.append(ManualSeasons.of(self.store.client, self.store.keys))
        return self._seasons[0].current(product)

    def close(self) -> None:
        """Close this process's Redis connection, if it made one."""
        if self._redis:
            self._redis.pop()[0].client.close()
        self._user_states.clear()
        self._period_results.clear()
        self._seasons.clear()

    def find_board(self, product_id: str, name: str) -> Board | None:
        """``products[product_id].board(name)``, without rebuilding the product's boards
        (but for a board whose seasons are set at run time)."""
        found = self._boards.get((product_id, name))
        if found is None and product_id in self.products:
            product = self.products[product_id]
            if name in product.manual_boards:
                current = self.current(product)  # the same object while nothing changed
                made = self._current_boards.get(product_id)
                if made is None or made[0] is not current:
                    made = self._current_boards[product_id] = (
                        current, {b.name: b for b in reversed(current.boards)})
                return made[1].get(name)
        return found

    def product(self, product_id: str) -> Product:
        """The configured product, or a 404 ``unknown_product`` error."""
        product = self.products.get(product_id)
        if product is None:
            raise ApiError(
                404, "unknown_product", f"No product {product_id!r} is configured.",
                product_id=product_id,
            )
        return self.current(product)

    def board(self, product: Product, name: str) -> Board:
        """The product's board ``name``, or a 404 ``unknown_board`` error."""
        board = self.find_board(product.id, name)
        if board is None:
            raise ApiError(
                404, "unknown_board", f"Product {product.id!r} has no board {name!r}.",
                product_id=product.id, board=name, boards=[b.name for b in product.boards],
            )
        return board


def check_user_id(user_id: str) -> None:
    """User ids are at most 128 characters, as in events: a longer one is a 400."""
    if len(user_id) > MAX_ID_LEN:
        raise ApiError(400, "invalid_user_id",
                       f"A user id has at most {MAX_ID_LEN} characters.", max_length=MAX_ID_LEN)


def state() -> ApiState:
    """The state of the app handling the current request."""
    return cast(ApiState, current_app.extensions[EXTENSION])
