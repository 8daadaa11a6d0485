"""The read API over a products file of one product, once some of its events are applied."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask.testing import FlaskClient

from api import create_app
from api.config import ApiSettings
from api.state import EXTENSION
from tests.support.varcade import raw
from tracker.processing import BatchProcessor
from tracker.products import load_products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Store


@contextmanager
def served_alone(tmp_path: Path, settings: Settings, store: Store, dead_letters: DeadLetters,
                 product_line: str, rows: list[dict[str, str]]
                 ) -> Iterator[tuple[FlaskClient, int]]:
    """A client of the API over a products file of ``product_line`` alone, once ``rows``
    (of that product) are applied, a second apart from a minute ago; and their first ms."""
    config = tmp_path / "products.toml"
    config.write_text(f"[products]\n{product_line}\n")
    start = int(time.time()) * 1000 - 60_000
    entries = [(f"{start + i * 1000}-0", raw(row)) for i, row in enumerate(rows)]
    processor = BatchProcessor(load_products(config), store, dead_letters)
    assert processor.process(rows[0]["product_id"], "s", entries).applied == len(rows)
    app = create_app(dataclasses.replace(settings, products_file=str(config)),
                     ApiSettings(rate_limit="off"))
    try:
        yield app.test_client(), start
    finally:
        app.extensions[EXTENSION].close()
