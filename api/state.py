"""What the views share: settings, products, the store and rank reads, kept on the app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from flask import current_app

from api.auth import Authenticator
from api.config import ApiSettings
from api.errors import ApiError
from tracker.events import MAX_ID_LEN
from tracker.handlers import Board
from tracker.products import Product, Products
from tracker.settings import Settings
from tracker.storage import Ranks, Store

EXTENSION = "stats_tracker"


@dataclass(frozen=True)
class ApiState:
    settings: Settings
    products: Products
    store: Store
    ranks: Ranks
    api: ApiSettings
    auth: Authenticator

    def product(self, product_id: str) -> Product:
        """The configured product, or a 404 ``unknown_product`` error."""
        product = self.products.get(product_id)
        if product is None:
            raise ApiError(
                404, "unknown_product", f"No product {product_id!r} is configured.",
                product_id=product_id,
            )
        return product

    @staticmethod
    def board(product: Product, name: str) -> Board:
        """The product's board ``name``, or a 404 ``unknown_board`` error."""
        board = product.board(name)
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
