"""``/dashboard/``: the course analytics page for course staff, and
``/dashboard/boards``: every product's leaderboards, served by the API itself.

Plain HTML, CSS and JavaScript in ``dashboard_static/`` (no CDN, no build step).
The pages call the read API (``/courses/<course>/analytics``, ``/products/...``)
with the user's own token, if any, so they show exactly what it may read. Their
responses forbid scripts from anywhere but this server and framing by other sites.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

HERE = Path(__file__).with_name("dashboard_static")
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
          "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


def _secured(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/")
def page() -> Response:
    return _secured(send_from_directory(HERE, "index.html", max_age=0))


@bp.get("/boards")
def boards_page() -> Response:
    return _secured(send_from_directory(HERE, "leaderboards.html", max_age=0))


@bp.get("/static/<name>")
def asset(name: str) -> Response:
    return _secured(send_from_directory(HERE, name, max_age=0))
