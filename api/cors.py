"""Cross-origin reads (CORS, by flask-cors): a game portal or a dashboard served from
another origin may call the API from its visitors' browsers.

``TRACKER_CORS_ORIGINS`` names the origins allowed (``*``: any); with none, the API
sends no CORS headers and browsers keep other sites' scripts from reading its answers.
Tokens travel in the ``Authorization`` header, never in cookies, so no credentials mode
is needed; a preflight (``OPTIONS``) is answered without a token and is not counted by
the rate limit (it is ``api.ApiFlask``'s 204 with ``Allow``, plus the CORS headers).
"""

from __future__ import annotations

from flask import Flask
from flask_cors import CORS

from api.config import ApiSettings

# what a page's script may read of an answer besides the simple headers: its budget
EXPOSED_HEADERS = ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
                   "Retry-After"]
PREFLIGHT_MAX_AGE = 600  # seconds a browser may reuse a preflight's answer


def init_cors(app: Flask, settings: ApiSettings) -> None:
    if not settings.cors_origins:
        return
    origins = "*" if settings.cors_origins == ("*",) else list(settings.cors_origins)
    CORS(app, origins=origins, methods=["GET", "HEAD", "OPTIONS"],
         allow_headers=["Authorization"], expose_headers=EXPOSED_HEADERS,
         max_age=PREFLIGHT_MAX_AGE, supports_credentials=False)
