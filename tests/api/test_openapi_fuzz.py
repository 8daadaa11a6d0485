"""Schemathesis against /openapi.json, in process: no 5xx, every answer matches its schema.

Bounded: at most 30 valid and 15 invalid generated requests per operation, on boards filled with
ties through the real BatchProcessor. (Driven through hypothesis directly:
schemathesis's own pytest loader does not support this pytest version.)
"""

from __future__ import annotations

import random
import time

import flask
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from api import create_app
from tests.api.conftest import SECURED, Feed, MakeApp, Token, bearer
from tests.conftest import TEST_PRODUCTS
from tests.support.handlers import play_race_week
from tests.support.varcade import EXAMPLE, P1, P2, game_over
from tracker.closing import PeriodResults
from tracker.periods import Period, PeriodKind
from tracker.processing import BatchProcessor
from tracker.products import Products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Store

PLAYERS = [P1, P2, "ann", "bob", "cid", "dee"]


def documented_cases() -> list[tuple[str, GenerationMode]]:
    """Every path of the document, positive; those with parameters also negative.

    (Building an app does not connect to Redis.)
    """
    app = create_app(Settings(products_file=str(TEST_PRODUCTS)), SECURED)
    paths = app.test_client().get("/openapi.json").get_json()["paths"]
    cases = []
    for path, item in sorted(paths.items()):
        cases.append((path, GenerationMode.POSITIVE))
        if item["get"]["parameters"]:
            cases.append((path, GenerationMode.NEGATIVE))
    return cases


@pytest.fixture
def fuzzed_app(make_app: MakeApp, feed: Feed, products: Products, store: Store,
               dead_letters: DeadLetters) -> flask.Flask:
    rng = random.Random(3)
    for product in ("exrps", "pong", "chess"):
        feed(product, [game_over(product, *rng.sample(PLAYERS, 2)) for _ in range(25)])
    feed("exrps", EXAMPLE)
    # race: last week closed (an archive and buckets), this week on
    now = int(time.time() * 1000)
    this_week = Period.containing(PeriodKind.WEEK, now)
    for week in (this_week.shift(-1), this_week):
        play_race_week(lambda clock: BatchProcessor(products, store, dead_letters,
                                                    clock=lambda: clock),
                       week, [(p, 50 + i % 3) for i, p in enumerate(PLAYERS)])
    assert PeriodResults(store.client).close_due(products["race"], now)
    return make_app(SECURED, rate_limit="100000 per minute")


@pytest.mark.parametrize(("path", "mode"), documented_cases())
def test_api_conforms_to_its_openapi_document(fuzzed_app: flask.Flask, token: Token,
                                              path: str, mode: GenerationMode) -> None:
    """Valid requests: documented answers. Invalid ones: a JSON 4xx, never a 5xx."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzzed_app)
    operation = schema[path]["GET"]
    headers = bearer(token(sub=P1, scope="stats:read leaderboards:read"))
    # A cursor is opaque and cursor/offset exclude each other: neither can be said in
    # OpenAPI 3.0, so a schema-valid query may rightly get a 422 there.
    excluded = ([schemathesis.checks.positive_data_acceptance] if path.endswith("/entries")
                else [])

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=30 if mode is GenerationMode.POSITIVE else 15, deadline=None,
              derandomize=True,
              suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, excluded_checks=excluded)

    check()
