"""Operations: Prometheus metrics, rate limits in Redis, the OpenAPI document and its page."""

from __future__ import annotations

import dataclasses
import re
import time
from importlib.metadata import version
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from api import create_app
from api.config import ApiSettings
from api.state import EXTENSION
from tests.api.conftest import Feed, MakeApp
from tests.conftest import DATA_DB, TEST_PRODUCTS
from tests.support.handlers import RewardedRaceTimes, play_race_week, prizes_granted
from tests.support.pipeline import in_flight
from tests.support.prometheus import exported, monitored_series
from tests.support.redis_server import RedisServer, free_port
from tests.support.varcade import game_over
from tests.tracker.edx.logs_gen import line as log_line
from tracker.closing import PeriodResults
from tracker.periods import Period, PeriodKind
from tracker.processing import BatchProcessor
from tracker.products import Products, load_products
from tracker.rewards import HookRun, RewardHooks
from tracker.settings import Settings
from tracker.storage import DeadLetters, Store

REWARDED = f"{RewardedRaceTimes.__module__}:{RewardedRaceTimes.__name__}"


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus exposition."""
    for line in text.splitlines():
        if not line.startswith((name + "{", name + " ")):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_by_route_template_without_user_ids(client: FlaskClient,
                                                          feed: Feed) -> None:
    feed("pong", [game_over("pong", "secret-user-1", "secret-user-2")])
    for user in ("secret-user-1", "secret-user-2", "nobody-at-all"):
        client.get(f"/products/pong/boards/wins/players/{user}")
    client.get("/no/such/secret-user-3")
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    text = resp.get_data(as_text=True)
    route = "/products/<product_id>/boards/<board>/players/<user_id>"
    assert metric(text, "tracker_api_requests_total", route=route, status="200") == 2
    assert metric(text, "tracker_api_requests_total", route=route, status="404") == 1
    assert metric(text, "tracker_api_requests_total", route="<unmatched>", status="404") == 1
    assert metric(text, "tracker_api_request_duration_seconds_count", route=route) == 3
    assert "secret-user" not in text and "nobody-at-all" not in text


def test_metrics_show_the_pipeline(client: FlaskClient, settings: Settings, products: Products,
                                  store: Store, dead_letters: DeadLetters,
                                  stream: redis.Redis) -> None:
    rows = [game_over("pong", "a", "b"), game_over("pong", "b", "c"), {"product_id": "pong"}]
    entries = [(f"1700000000000-{i}", {k.encode(): v.encode() for k, v in row.items()})
               for i, row in enumerate(rows)]
    processor = BatchProcessor(products, store, dead_letters)
    first = processor.process("pong", "s", entries)
    again = processor.process("pong", "s", entries)  # redelivered: skipped
    assert first.applied == 2 and again.duplicates == 2
    old = [("1700000000000-9", {k.encode(): v.encode()
                                for k, v in game_over("darts", "a", "b").items()})]
    assert processor.process("darts", "s", old).late == 1  # 2023: its week closed long ago
    course_log = [(f"1700000000001-{i}", {b"product_id": b"edx", b"type": b"tracking_log",
                                          b"line": log_line("seq_goto", 1_764_400_000 + i, {},
                                                        user=user).encode()})
                  for i, user in enumerate(["ann", "bob", "ann"])]
    assert processor.process("edx", "s", course_log).applied == 3
    for n in range(3):
        stream.xadd(settings.stream_key, {"product_id": "pong", "n": n})
    stream.xgroup_create(settings.stream_key, settings.stream_group, id="0")
    in_flight(stream, settings).claim("bridge-1", count=1, part_size=10, max_in_flight=100,
                                      idle_ms=60_000)

    text = client.get("/metrics").get_data(as_text=True)
    assert metric(text, "tracker_pipeline_up") == 1
    assert metric(text, "tracker_events_applied_total", product="pong") == 2
    assert metric(text, "tracker_events_duplicate_total", product="pong") == 2
    assert metric(text, "tracker_events_applied_total", product="chess") == 0
    assert metric(text, "tracker_events_late_total", product="darts") == 1
    assert metric(text, "tracker_events_late_total", product="pong") == 0
    assert metric(text, "tracker_dead_letters") == dead_letters.count() == 1
    assert metric(text, "tracker_stream_length") == 3
    assert metric(text, "tracker_stream_pending") == 1
    assert metric(text, "tracker_stream_lag") == 2
    assert metric(text, "tracker_timelines_changed", product="edx") == 2  # ann's and bob's
    # every series the shipped alerting rules and dashboard read (docker/)
    assert not monitored_series("tracker_") - exported(text)


def test_metrics_say_which_version_answers(client: FlaskClient) -> None:
    text = client.get("/metrics").get_data(as_text=True)
    assert f'tracker_build_info{{version="{version("stats-tracker")}"}} 1.0' in text


def test_metrics_answer_when_redis_is_down() -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"
    settings = Settings(redis_url=down, stream_url=down, products_file=str(TEST_PRODUCTS))
    resp = create_app(settings, ApiSettings(rate_limit="off")).test_client().get("/metrics")
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert metric(text, "tracker_pipeline_up") == 0 and "tracker_events_applied" not in text


def test_rate_limit_per_client_in_redis(make_app: MakeApp, data: redis.Redis) -> None:
    client = make_app(rate_limit="3 per minute").test_client()
    for i in range(3):
        resp = client.get("/products/pong/boards/wins/entries")
        assert resp.status_code == 200
        assert resp.headers["X-RateLimit-Limit"] == "3"
        assert resp.headers["X-RateLimit-Remaining"] == str(2 - i)
        assert int(resp.headers["X-RateLimit-Reset"]) > 0
        assert "Retry-After" not in resp.headers  # only when refused
    resp = client.get("/leaderboards/top_ten/pong")
    assert resp.status_code == 429 and resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["error"] == "too_many_requests" and "3 per 1 minute" in body["message"]
    assert int(resp.headers["Retry-After"]) > 0 and resp.headers["X-RateLimit-Remaining"] == "0"
    # probes, metrics and documentation are not limited
    for path in ("/health", "/ready", "/metrics", "/openapi.json"):
        assert client.get(path).status_code == 200, path
    # another client has its own budget
    other = client.get("/products", environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other.status_code == 200
    assert any(k.startswith(b"st:ratelimit") for k in data.scan_iter())  # counted in Redis


def test_redis_over_a_unix_socket(settings: Settings, redis_server: RedisServer,
                                  feed: Feed, data: redis.Redis) -> None:
    """A co-located Redis may be reached at ``unix://<path>?db=N``: reads, readiness and
    the rate limiter's counters (which the limits library spells ``redis+unix://``)."""
    feed("pong", [game_over("pong", "ann", "bob")])
    over_socket = dataclasses.replace(settings, redis_url=redis_server.unix_url(DATA_DB))
    app = create_app(over_socket, ApiSettings(rate_limit="5 per minute"))
    try:
        client = app.test_client()
        resp = client.get("/products/pong/boards/wins/players/ann")
        assert resp.status_code == 200 and resp.get_json()["score"] == 1.0
        assert resp.headers["X-RateLimit-Remaining"] == "4"
        assert client.get("/ready").status_code == 200
        assert any(k.startswith(b"st:ratelimit") for k in data.scan_iter())
    finally:
        app.extensions[EXTENSION].close()


def test_rate_limit_behind_a_trusted_proxy(make_app: MakeApp) -> None:
    client = make_app(rate_limit="1 per minute", proxy_hops=1).test_client()
    for addr in ("192.0.2.1", "192.0.2.2"):
        headers = {"X-Forwarded-For": addr}
        assert client.get("/products", headers=headers).status_code == 200
        assert client.get("/products", headers=headers).status_code == 429


def test_openapi_document(client: FlaskClient) -> None:
    resp = client.get("/openapi.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    spec = resp.get_json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path in ("/products", "/products/{product_id}", "/products/{product_id}/boards/{board}",
                 "/products/{product_id}/boards/{board}/entries",
                 "/products/{product_id}/boards/{board}/players/{user_id}",
                 "/products/{product_id}/boards/{board}/players/{user_id}/around",
                 "/products/{product_id}/players/{user_id}/stats", "/players/{user_id}/stats",
                 "/leaderboards/top_ten/{product_id}", "/stats/{product_id}/{user_id}",
                 "/health", "/ready", "/metrics"):
        assert "get" in paths[path], path
    entries = paths["/products/{product_id}/boards/{board}/entries"]["get"]
    names = {p["name"] for p in entries["parameters"]}
    assert names == {"product_id", "board", "limit", "cursor", "offset", "ties", "period"}
    assert set(entries["responses"]) >= {"200", "304", "404", "422", "503"}
    assert "ETag" in entries["responses"]["200"]["headers"]
    stats = paths["/players/{user_id}/stats"]["get"]
    assert stats["security"] == [{"bearerAuth": []}]
    assert set(stats["responses"]) >= {"200", "401", "403"}
    # 304 and ETag are documented where they are sent: public reads, not probes or tokens
    for path, documented in [("/products", True), ("/health", False), ("/metrics", False),
                             ("/players/{user_id}/stats", False)]:
        assert ("304" in paths[path]["get"]["responses"]) is documented, path
    assert "ETag" in client.get("/products").headers
    assert "ETag" not in client.get("/health").headers
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert {"Page", "Standing", "Error", "Entry"} <= set(spec["components"]["schemas"])


def test_docs_page_is_served_locally(client: FlaskClient) -> None:
    resp = client.get("/docs/")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    assert "/openapi.json" in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/docs/") for a in assets)  # nothing from a CDN
    urls = re.findall(r"https?://[^\"' ]+", html)
    assert all(u.startswith("http://localhost/docs/") for u in urls), urls  # its own host
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


@pytest.mark.parametrize("path", [
    "/products/pong/boards/wins", "/products/pong/boards/wins/entries",
    "/products/pong/boards/wins/players/a", "/products/pong/boards/wins/players/a/around",
])
def test_redis_down_board_reads_are_503_json(path: str) -> None:
    settings = Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0",
                        products_file=str(TEST_PRODUCTS))
    client = create_app(settings, ApiSettings(rate_limit="10/second")).test_client()
    resp = client.get(path)
    assert resp.status_code == 503 and resp.get_json()["error"] == "storage_unavailable"
    assert client.get("/products").status_code == 200  # configuration only: no Redis needed


def test_metrics_show_reward_hooks_that_fail(settings: Settings, data: redis.Redis,
                                            tmp_path: Path) -> None:
    ledger = tmp_path / "not-yet" / "prizes.jsonl"  # the hook fails until the folder exists
    config = tmp_path / "products.toml"
    config.write_text(f'[products]\nrace = {{ handlers = [{{ use = "{REWARDED}", '
                      f'prizes = "{ledger}", order = "asc", periods = ["week"] }}] }}\n'
                      'pong = { handlers = ["wins"] }\n')
    hooked = dataclasses.replace(settings, products_file=str(config))
    products = load_products(config)
    week = Period.containing(PeriodKind.WEEK, int(time.time() * 1000)).shift(-1)
    play_race_week(lambda clock: BatchProcessor(products, Store(data), DeadLetters(data),
                                                clock=lambda: clock),
                   week, [("d1", 60), ("d2", 58)])
    results = PeriodResults(data)
    assert results.close_due(products["race"], int(time.time() * 1000)) == 2
    client = create_app(hooked, ApiSettings(rate_limit="off")).test_client()

    def scrape() -> str:
        return client.get("/metrics").get_data(as_text=True)

    text = scrape()
    assert metric(text, "tracker_reward_hooks_lag", product="race") == 2  # none run yet
    assert 'tracker_reward_hooks_pending{product="pong"}' not in text  # pong has no hook
    assert RewardHooks(results, "c1").run(products["race"]) == HookRun(failed=2)
    text = scrape()
    assert metric(text, "tracker_reward_hooks_pending", product="race") == 2
    assert metric(text, "tracker_reward_hooks_lag", product="race") == 0
    ledger.parent.mkdir()
    assert RewardHooks(results, "c1", retry_idle_ms=0).run(products["race"]) == HookRun(2)
    text = scrape()
    assert 'tracker_reward_hooks_pending{product="race"} 0.0' in text
    assert len(prizes_granted(ledger)) == 2
