"""Fixtures for the read API: the app on the test Redis, and a way to feed it events."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import flask
import pytest
from flask.testing import FlaskClient

from api import create_app
from api.state import EXTENSION, ApiState
from tracker.processing import BatchProcessor, BatchReport
from tracker.products import Products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Store

Feed = Callable[[str, list[dict[str, str]]], BatchReport]


@pytest.fixture
def app(settings: Settings) -> Iterator[flask.Flask]:
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    state: ApiState = app.extensions[EXTENSION]
    state.store.client.close()


@pytest.fixture
def client(app: flask.Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def feed(products: Products, store: Store, dead_letters: DeadLetters) -> Feed:
    """Apply stream entries of one product through the real BatchProcessor."""
    base = [1_700_000_000_000]

    def feed(product_id: str, rows: list[dict[str, str]]) -> BatchReport:
        entries = [(f"{base[0] + i}-0", {k.encode(): v.encode() for k, v in row.items()})
                   for i, row in enumerate(rows)]
        base[0] += len(rows)
        report = BatchProcessor(products, store, dead_letters).process(product_id, "s", entries)
        assert not report.dead_lettered, report.as_dict()
        return report

    return feed
