"""The read API: a Flask app over the tracker's Redis store.

Served by gunicorn as ``gunicorn -c python:api.gunicorn_conf "api:create_app()"``.
All domain logic lives in :mod:`tracker`; this package maps HTTP requests onto store and rank reads.
Each resource is one blueprint; every error answer is a JSON object
(see :mod:`api.errors`); the OpenAPI document is generated from the views'
schemas (:mod:`api.openapi`).
"""

from __future__ import annotations

import flask
import redis
from werkzeug.middleware.proxy_fix import ProxyFix

from api import (
    archive,
    boards,
    buckets,
    courses,
    dashboard,
    errors,
    health,
    joins,
    leaderboards,
    players,
    products,
    stats,
    userstate,
)
from api.auth import Authenticator
from api.caching import init_caching
from api.config import ApiSettings
from api.cors import init_cors
from api.docs import EXTENSION as OPENAPI_EXTENSION
from api.docs import init_docs
from api.limits import init_limiter
from api.metrics import init_metrics
from api.openapi import build_spec
from api.state import EXTENSION, ApiState
from tracker.products import load_products
from tracker.settings import Settings
from tracker.storage.connect import data_client

# A read API should fail fast rather than hold a gunicorn worker on a dead Redis.
REDIS_CONNECT_TIMEOUT = 2.0  # seconds
REDIS_SOCKET_TIMEOUT = 5.0  # seconds

__all__ = ["create_app"]


class ApiFlask(flask.Flask):
    """Flask whose automatic ``OPTIONS`` answer is ``204 No Content`` with ``Allow``
    (Flask's own is an empty 200 typed ``text/html``); flask-cors adds its headers."""

    def make_default_options_response(self) -> flask.Response:
        response = super().make_default_options_response()
        response.status_code = 204
        del response.headers["Content-Type"]
        return response


def create_app(settings: Settings | None = None,
               api_settings: ApiSettings | None = None) -> flask.Flask:
    """Build the app. Settings default to the ``TRACKER_*`` environment."""
    settings = settings or Settings.from_env()
    api_settings = api_settings or ApiSettings.from_env()
    products_config = load_products(settings.products_path)  # a bad config fails the boot

    def connect() -> redis.Redis:
        # One connection per process, not a pool: gunicorn's sync workers serve
        # one request at a time, and a pool's checkout (lock, poll for stray
        # data, bookkeeping) costs more than a hot read's whole Redis call.
        # Threaded workers share it under redis-py's lock.
        return data_client(
            settings.redis_url,
            socket_connect_timeout=REDIS_CONNECT_TIMEOUT,
            socket_timeout=REDIS_SOCKET_TIMEOUT,
            single_connection_client=True,
        )

    app = ApiFlask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the schemas' field order
    if api_settings.proxy_hops:
        hops = api_settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.extensions[EXTENSION] = api_state = ApiState(
        settings=settings, products=products_config, api=api_settings,
        auth=Authenticator(api_settings), connect=connect,
    )
    errors.register(app)
    init_metrics(app, api_state)  # first: its timer wraps everything below
    init_limiter(app, api_settings, settings.redis_url, settings.key_prefix)
    init_cors(app, api_settings)
    init_caching(app, api_settings)
    for bp in (leaderboards.bp, stats.bp, products.bp, boards.bp, buckets.bp, archive.bp,
               joins.bp, players.bp,
               userstate.bp, courses.bp, dashboard.bp, health.bp):
        app.register_blueprint(bp)
    init_docs(app)
    app.extensions[OPENAPI_EXTENSION] = build_spec(app, products_config, api_settings)
    return app
