"""Errors are JSON, never HTML; health and readiness probes."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from api import create_app
from tests.conftest import TEST_PRODUCTS
from tests.support.redis_server import free_port
from tracker.settings import Settings

ROUTES = ["/leaderboards/top_ten/exrps", "/stats/exrps/someone"]


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_a_json_405(client: FlaskClient, path: str, method: str) -> None:
    resp = client.open(path, method=method)
    assert resp.status_code == 405 and resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["error"] == "method_not_allowed" and body["message"]
    assert "GET" in body["allowed_methods"]
    assert "GET" in resp.headers["Allow"]


@pytest.mark.parametrize("path", [
    "/", "/nope", "/leaderboards", "/leaderboards/top_ten", "/leaderboards/top_ten/",
    "/leaderboards/top_ten/exrps/", "/leaderboards/top_eleven/exrps",
    "/stats/exrps", "/stats/exrps/", "/stats/exrps/someone/", "/stats/exrps/a/b",
    "/stats/exrps/a%2Fb", "/health/", "/metrics/", "/openapi.json/", "/docs/nope.js",
    "/products/", "/products/exrps/boards", "/products/exrps/boards/wins/",
])
def test_unknown_paths_are_a_json_404(client: FlaskClient, path: str) -> None:
    resp = client.get(path)
    assert resp.status_code == 404 and resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["error"] == "not_found" and body["message"]
    assert b"<html" not in resp.data.lower()


def test_head_is_served(client: FlaskClient) -> None:
    resp = client.head("/leaderboards/top_ten/exrps")
    assert resp.status_code == 200 and resp.mimetype == "application/json"


def test_health_and_ready(client: FlaskClient) -> None:
    resp = client.get("/health")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.get_json() == {"status": "ok"}
    resp = client.get("/ready")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.get_json() == {"status": "ready"}


@pytest.fixture
def down_client() -> FlaskClient:
    """An app whose Redis URL points at a closed port."""
    settings = Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0",
                        products_file=str(TEST_PRODUCTS))
    app = create_app(settings)
    app.config["TESTING"] = True
    return app.test_client()


def test_redis_down_ready_is_503_json_and_health_is_ok(down_client: FlaskClient) -> None:
    resp = down_client.get("/ready")
    assert resp.status_code == 503 and resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["status"] == "unavailable" and body["error"] == "storage_unavailable"
    assert down_client.get("/health").status_code == 200


@pytest.mark.parametrize("path", ROUTES)
def test_redis_down_reads_are_503_json(down_client: FlaskClient, path: str) -> None:
    resp = down_client.get(path)
    assert resp.status_code == 503 and resp.mimetype == "application/json"
    assert resp.get_json()["error"] == "storage_unavailable"


def test_unknown_product_is_404_even_with_redis_down(down_client: FlaskClient) -> None:
    assert down_client.get("/stats/nope/x").status_code == 404
