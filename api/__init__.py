"""The read API: a thin Flask app over the tracker's Redis store.

Served by gunicorn as ``gunicorn "api:create_app()"``. All domain logic lives
in :mod:`tracker`; this package only maps HTTP requests onto store reads.
Each resource is one blueprint; every error answer is a JSON object
(see :mod:`api.errors`).
"""

from __future__ import annotations

import flask
import redis

from api import errors, health, leaderboards, stats
from api.state import EXTENSION, ApiState
from tracker.products import load_products
from tracker.settings import Settings
from tracker.storage import Keys, Store

# A read API should fail fast rather than hold a gunicorn worker on a dead Redis.
REDIS_CONNECT_TIMEOUT = 2.0  # seconds
REDIS_SOCKET_TIMEOUT = 5.0  # seconds

__all__ = ["create_app"]


def create_app(settings: Settings | None = None) -> flask.Flask:
    """Build the app. ``settings`` defaults to ``Settings.from_env()`` (``TRACKER_*``)."""
    settings = settings or Settings.from_env()
    products = load_products(settings.products_path)  # a bad config fails the boot
    client = redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=REDIS_CONNECT_TIMEOUT,
        socket_timeout=REDIS_SOCKET_TIMEOUT,
    )
    store = Store(client, Keys(settings.key_prefix))

    app = flask.Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the schemas' field order
    app.extensions[EXTENSION] = ApiState(settings=settings, products=products, store=store)
    errors.register(app)
    app.register_blueprint(leaderboards.bp)
    app.register_blueprint(stats.bp)
    app.register_blueprint(health.bp)
    return app
