"""What the views share: settings, products and the store, kept on the app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from flask import current_app

from api.errors import ApiError
from tracker.products import Product, Products
from tracker.settings import Settings
from tracker.storage import Store

EXTENSION = "stats_tracker"


@dataclass(frozen=True)
class ApiState:
    settings: Settings
    products: Products
    store: Store

    def product(self, product_id: str) -> Product:
        """The configured product, or a 404 ``unknown_product`` error."""
        product = self.products.get(product_id)
        if product is None:
            raise ApiError(
                404, "unknown_product", f"No product {product_id!r} is configured.",
                product_id=product_id,
            )
        return product


def state() -> ApiState:
    """The state of the app handling the current request."""
    return cast(ApiState, current_app.extensions[EXTENSION])
