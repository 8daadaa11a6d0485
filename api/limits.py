"""Per-client rate limits on the data routes (flask-limiter, counters in Redis).

A client is its address (behind ``TRACKER_PROXY_HOPS`` trusted proxies, the
address they forwarded). Answers carry ``X-RateLimit-Limit``,
``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``; a client over its limit
gets a JSON 429 with ``Retry-After``. Probes, metrics, the documentation and
CORS preflights are not limited. If the limiter's Redis fails, requests are let through.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from api.config import ApiSettings

# Blueprints whose routes are limited: everything that reads players' data.
LIMITED = frozenset({"products", "boards", "buckets", "archive", "players", "leaderboards",
                     "stats"})


def _exempt() -> bool:
    # a CORS preflight reads nothing: a browser sends one before its first cross-origin read
    return request.blueprint not in LIMITED or request.method == "OPTIONS"


def _retry_after_only_when_refused(response: Response) -> Response:
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response


def storage_uri(redis_url: str) -> str:
    """The limits library's name for a Redis URL: it spells a unix socket ``redis+unix://``."""
    return "redis+" + redis_url if redis_url.startswith("unix://") else redis_url


def init_limiter(app: Flask, settings: ApiSettings, redis_url: str,
                 key_prefix: str) -> Limiter | None:
    if not settings.rate_limited:
        return None
    # Registered before the limiter's own hook, so it runs after it (Flask runs them in
    # reverse): flask-limiter puts Retry-After on every answer, where it says "wait
    # before asking again" to whoever honours it; it belongs to 429 (and 503) only.
    app.after_request(_retry_after_only_when_refused)
    return Limiter(
        get_remote_address,
        app=app,
        # one budget per client across every limited route (default_limits would
        # give each route its own)
        application_limits=[settings.rate_limit],
        application_limits_exempt_when=_exempt,
        storage_uri=storage_uri(settings.rate_limit_storage_url or redis_url),
        storage_options={"socket_connect_timeout": 2, "socket_timeout": 2,
                         "key_prefix": f"{key_prefix}:ratelimit"},
        strategy="fixed-window",
        headers_enabled=True,
        swallow_errors=True,
    )
