"""What the operator commands (``tracker …``) share: the product configuration, and
Redis errors, each ending the command with a one-line message and exit code 1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
import redis

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


@contextmanager
def redis_errors() -> Iterator[None]:
    """A Redis error ends the command with a one-line message and exit code 1."""
    try:
        yield
    except redis.RedisError as exc:
        raise click.ClickException(f"Redis: {exc}") from exc
