"""What the operator commands (``tracker …``) share: the product configuration, and
Redis errors, each ending the command with a one-line message and exit code 1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
import redis

from tracker.handlers import Board
from tracker.products import ConfigError, Product, Products, load_products
from tracker.settings import Settings


def configured_products(settings: Settings) -> Products:
    """The products of ``TRACKER_PRODUCTS_FILE``; a bad file ends the command."""
    try:
        return load_products(settings.products_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def configured_product(products: Products, product_id: str) -> Product:
    """The command's PRODUCT argument as configured; an unknown one is a usage error."""
    product = products.get(product_id)
    if product is None:
        raise click.BadParameter(f"{product_id!r} is not configured", param_hint="PRODUCT")
    return product


def configured_board(products: Products, product_id: str, board_name: str) -> tuple[Product, Board]:
    """The command's PRODUCT and BOARD arguments as configured; unknown ones are usage
    errors (an unknown board's names the product's boards)."""
    product = configured_product(products, product_id)
    board = product.board(board_name)
    if board is None:
        raise click.BadParameter(f"{product_id} has no board {board_name!r} (it has "
                                 f"{', '.join(b.name for b in product.boards)})",
                                 param_hint="BOARD")
    return product, board


@contextmanager
def redis_errors() -> Iterator[None]:
    """A Redis error ends the command with a one-line message and exit code 1."""
    try:
        yield
    except redis.RedisError as exc:
        raise click.ClickException(f"Redis: {exc}") from exc
