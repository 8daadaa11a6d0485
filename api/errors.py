"""JSON errors. Every error answer is ``{"error": <code>, "message": <text>, ...}``.

Handlers cover our own :class:`ApiError`, every Werkzeug ``HTTPException``
(404 unknown path or trailing slash, 405 wrong method, ...), Redis being
unreachable (503) and anything unexpected (500, logged). None of them ever
answers HTML.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis
from flask import Flask, Response, current_app, jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from tracker.userstate import UserStateClient

# Redis errors that mean "not reachable right now" (BusyLoadingError is a ConnectionError).
UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, UserStateClient.ServiceUnavailable)


class ApiError(Exception):
    """An expected failure of a request; ``fields`` are added to the JSON body."""

    def __init__(self, status: int, code: str, message: str, *,
                 headers: Mapping[str, str] | None = None, **fields: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.fields = fields


def error_code(reason: str) -> str:
    """An HTTP reason phrase as an error code: ``"URI Too Long"`` -> ``"uri_too_long"``."""
    return reason.lower().replace(" ", "_").replace("'", "")


def error_response(status: int, code: str, message: str, **fields: Any) -> Response:
    response = jsonify({"error": code, "message": message, **fields})
    response.status_code = status
    return response


def handle_api_error(exc: ApiError) -> Response:
    response = error_response(exc.status, exc.code, exc.message, **exc.fields)
    response.headers.update(exc.headers)
    return response


def handle_http_exception(exc: HTTPException) -> Response:
    """Werkzeug's errors as JSON: ``404 Not Found`` becomes ``{"error": "not_found", ...}``."""
    fields: dict[str, Any] = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        fields["allowed_methods"] = sorted(exc.valid_methods)
    code = error_code(exc.name or "error")
    message = exc.description or exc.name
    if exc.code == 429:  # flask-limiter: the description is the limit, e.g. "600 per 1 minute"
        message = f"Rate limit exceeded ({exc.description}); retry after the Retry-After delay."
    response = error_response(exc.code or 500, code, message, **fields)
    for name, value in exc.get_headers():  # keeps e.g. the Allow header of a 405
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_unavailable(exc: Exception) -> Response:
    current_app.logger.warning("Redis unavailable: %s", exc)
    return error_response(
        503, "storage_unavailable", "The data store is not reachable; retry later."
    )


def handle_unexpected(exc: Exception) -> Response:
    current_app.logger.exception("unhandled error: %s", exc)
    return error_response(500, "internal_error", "An unexpected error occurred.")


def register(app: Flask) -> None:
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    for exc_type in UNAVAILABLE:
        app.register_error_handler(exc_type, handle_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
