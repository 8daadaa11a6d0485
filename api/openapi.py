"""The OpenAPI 3 document, generated from the routes and their marshmallow schemas.

Each view carries an :class:`Operation` (set with :func:`operation`); at start-up
:func:`build_spec` walks the app's URL map and turns every documented view into
an OpenAPI operation with apispec's marshmallow plugin. Path parameters list
the configured products and boards, and security reflects this deployment's
settings, so the document describes the running server exactly.
"""

from __future__ import annotations

import enum
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from marshmallow import Schema

from api.config import ApiSettings
from api.schemas import ErrorSchema
from tracker.events import MAX_ID_LEN
from tracker.products import Products

V = TypeVar("V", bound=Callable[..., Any])

TITLE = "stats-tracker read API"
VERSION = "1.0.0"
ATTRIBUTE = "__openapi_operation__"


class Auth(enum.Enum):
    NONE = "none"  # probes, documentation
    METRICS = "metrics"  # public unless TRACKER_PUBLIC_METRICS=false
    LEADERBOARDS = "leaderboards"  # public unless TRACKER_PUBLIC_LEADERBOARDS=false
    STATS = "stats"  # stats:read, or the player's own token
    STATE = "state"  # state:read, or the user's own token
    COURSE_STAFF = "course_staff"  # a staff role in the course's roster, or analytics:admin
    LEGACY_STATS = "legacy_stats"  # public unless TRACKER_LEGACY_STATS_PUBLIC says otherwise


@dataclass(frozen=True)
class Operation:
    tag: str
    response: type[Schema] | Schema | None  # the 200 JSON body (None: not JSON)
    query: type[Schema] | None = None
    auth: Auth = Auth.LEADERBOARDS
    errors: tuple[int, ...] = ()  # besides those implied (auth, limits, queries)
    reads_redis: bool = True
    rate_limited: bool = True
    media_type: str = "application/json"
    plain: dict[str, Any] | None = None  # a raw JSON schema for a non-marshmallow body


def operation(op: Operation) -> Callable[[V], V]:
    """Attach the OpenAPI description of a view."""
    def mark(view: V) -> V:
        setattr(view, ATTRIBUTE, op)
        return view
    return mark


TAGS = [
    {"name": "leaderboards", "description": "Boards, ranks under three tie modes, pages, "
                                            "windows around a player."},
    {"name": "players", "description": "Player statistics (need a token)."},
    {"name": "products", "description": "Configured products, their boards and handlers."},
    {"name": "course analytics", "description": "Time spent and video metrics of a course, "
                                                "for its staff (by its roster)."},
    {"name": "user state", "description": "Per-user block state (edX XBlock user state) "
                                          "and its history (need a token)."},
    {"name": "varcade", "description": "The two routes of the original Varcade tracker, "
                                       "kept compatible."},
    {"name": "operations", "description": "Probes and Prometheus metrics."},
]

ERROR_TEXT = {
    400: "Bad request (e.g. a user id over 128 characters).",
    401: "No token, or a token that does not verify (see WWW-Authenticate).",
    403: "A valid token without the scope this read needs.",
    404: "Unknown product, board or player.",
    422: "Invalid query parameters; `errors` says which and why.",
    429: "Rate limit exceeded; see Retry-After and X-RateLimit-* headers.",
    503: "Redis is not reachable, or (on a route that needs a token) the key set of "
         "TRACKER_JWT_JWKS_URL cannot be fetched; retry later (see Retry-After).",
}

RULE_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _needs_token(auth: Auth, settings: ApiSettings) -> bool:
    if auth in (Auth.STATS, Auth.STATE, Auth.COURSE_STAFF):
        return True
    if auth is Auth.LEADERBOARDS:
        return not settings.public_leaderboards
    if auth is Auth.LEGACY_STATS:
        return not settings.legacy_stats_is_public
    if auth is Auth.METRICS:
        return not settings.public_metrics
    return False


def _path_params(names: list[str], products: Products) -> list[dict[str, Any]]:
    boards = sorted({b.name for p in products.values() for b in p.boards})
    schemas: dict[str, dict[str, Any]] = {
        "product_id": {"type": "string", "enum": sorted(products)},
        "board": {"type": "string", "enum": boards},
        "user_id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LEN,
                    "pattern": "^[^/]+$"},
        "bucket": {"type": "integer", "minimum": 0},
    }
    return [{"name": n, "in": "path", "required": True,
             "schema": schemas.get(n, {"type": "string"})} for n in names]


def _operation(view: Callable[..., Any], op: Operation, names: list[str],
               products: Products, settings: ApiSettings) -> dict[str, Any]:
    doc = inspect.getdoc(view) or ""
    summary, _, description = doc.partition("\n\n")
    if op.plain is not None:
        body: Any = op.plain
    else:
        body = op.response
    ok: dict[str, Any] = {"description": summary or "OK"}
    if body is not None:
        ok["content"] = {op.media_type: {"schema": body}}
    elif op.media_type != "application/json":
        ok["content"] = {op.media_type: {"schema": {"type": "string"}}}
    codes = set(op.errors)
    secured = _needs_token(op.auth, settings)
    if secured:
        codes |= {401, 403} | ({503} if settings.jwt_jwks_url else set())
    if op.rate_limited and settings.rate_limited:
        codes.add(429)
    if op.query is not None:
        codes.add(422)
    if "product_id" in names:
        codes.add(404)
    if op.reads_redis:
        codes.add(503)
    responses: dict[str, Any] = {"200": ok}
    if not secured and op.tag != "operations":  # a public read: see api.caching
        ok["headers"] = {"ETag": {
            "description": "A hash of the body; send it back in If-None-Match to get 304 "
                           "while the answer is unchanged.",
            "schema": {"type": "string"}}}
        responses["304"] = {"description": "Not Modified: If-None-Match named this "
                                           "answer's ETag, so no body is sent."}
    for code in sorted(codes):
        responses[str(code)] = {"description": ERROR_TEXT.get(code, "Error."),
                                "content": {"application/json": {"schema": "Error"}}}
    parameters: list[Any] = _path_params(names, products)
    if op.query is not None:
        parameters.append({"in": "query", "schema": op.query})
    result: dict[str, Any] = {
        "tags": [op.tag], "summary": summary.replace("\n", " "), "description": description,
        "operationId": view.__name__, "parameters": parameters, "responses": responses,
        "security": [{"bearerAuth": []}] if secured else [],
    }
    return result


def build_spec(app: Flask, products: Products, settings: ApiSettings) -> dict[str, Any]:
    spec = APISpec(
        title=TITLE, version=VERSION, openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": (
            "Leaderboards, ranks and player statistics of stats-tracker. Every error is a "
            "JSON object `{error, message, ...}`. Ranks: ordinal ties are broken by the "
            "board's `tie_break`: who reached the score first (`earliest`) or descending "
            "user id bytes (`member`, Redis order); competition gives 1,2,2,4 and dense "
            "1,2,2,3."
        )},
        tags=TAGS,
    )
    spec.components.security_scheme("bearerAuth", {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "Scopes in `scope` (space-separated) or `scopes`: `stats:read` reads "
                       "any player's stats (a token whose `sub` is the player reads its "
                       "own); `leaderboards:read` reads boards when they are not public; "
                       "`state:read` reads any user's block state (a token whose `sub` is "
                       "the user reads its own); a course's analytics need a `sub` with a "
                       "staff role in that course's roster, or `analytics:admin`; "
                       "`metrics:read` reads `/metrics` when it is not public.",
    })
    spec.components.schema("Error", schema=ErrorSchema)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions[rule.endpoint]
        op: Operation | None = getattr(view, ATTRIBUTE, None)
        if op is None:
            continue
        names = RULE_ARG.findall(rule.rule)
        spec.path(path=RULE_ARG.sub(r"{\1}", rule.rule), operations={
            "get": _operation(view, op, names, products, settings)})
    return spec.to_dict()
