"""What caches may keep of an answer (``Cache-Control``), decided once for every route.

- An error, a probe or the metrics: ``no-store``.
- An answer to a request that carried a token: ``private, no-store``, so that a
  player's stats or a course's learners with their contact details never land in a
  shared cache or on a browser's disk.
- A public read (no token needed, none sent): ``public, max-age=<TRACKER_CACHE_SECONDS>``,
  so that a CDN in front of the API can absorb a portal's traffic for that long; with
  0, the default, ``no-cache``: a cache may keep it but must ask again before each use.
  Such an answer carries an ``ETag`` (a hash of its body), so asking again with
  ``If-None-Match`` gets ``304 Not Modified`` and no body while nothing changed: a
  portal polling a top ten, or a CDN revalidating, moves bytes only when it moved.

A view that sets its own ``Cache-Control`` (the dashboard's files) keeps it. Every
answer also says ``X-Content-Type-Options: nosniff``: JSON is never to be sniffed as
anything else.
"""

from __future__ import annotations

import hashlib

from flask import Flask, Response, request

from api.config import ApiSettings

NO_STORE_BLUEPRINTS = frozenset({"health", "metrics"})  # probes and scrapes: always fresh


def _tag(response: Response) -> None:
    # Werkzeug's add_etag + make_conditional cost a hot read about 23 µs; the same
    # SHA-1 tag set by hand costs 4, and only a request that asks pays for the check.
    digest = hashlib.sha1(response.get_data(), usedforsecurity=False).hexdigest()
    response.headers["ETag"] = f'"{digest}"'
    if "HTTP_IF_NONE_MATCH" in request.environ:
        response.make_conditional(request)  # 304, and Werkzeug drops the body


def init_caching(app: Flask, settings: ApiSettings) -> None:
    public = f"public, max-age={settings.cache_seconds}" if settings.cache_seconds \
        else "no-cache"

    def cache_control(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        if "Cache-Control" in headers:
            return response
        if (response.status_code >= 400 or request.method not in ("GET", "HEAD")
                or request.blueprint in NO_STORE_BLUEPRINTS):
            headers["Cache-Control"] = "no-store"
        elif "Authorization" in request.headers:
            headers["Cache-Control"] = "private, no-store"
        else:
            headers["Cache-Control"] = public
            if response.status_code == 200 and not response.is_streamed:
                _tag(response)
        return response

    app.after_request(cache_control)
