"""Query-string parsing with marshmallow: bad parameters are a JSON 422, never a 500.

Loading a query through marshmallow costs tens of µs, and the hot routes see
the same few query strings over and over (none, ``limit=10``, ``ties=dense``).
A load depends only on the schema and the raw query string, so successful
loads are kept per (schema, query string) in a small bounded cache; errors
are not cached and always take the full path.
"""

from __future__ import annotations

import threading
from typing import Any

from flask import request
from marshmallow import Schema, ValidationError, fields

from api.errors import ApiError

# Distinct query strings kept: enough for the usual ones, small enough that
# one-off strings (keyset cursors) only churn it. Each entry is a few hundred bytes.
CACHE_SIZE = 512
# Longer query strings (lists of players) are one-offs: loaded, never kept.
MAX_CACHED_QUERY = 512  # bytes

_loaded: dict[tuple[Schema, bytes], dict[str, Any]] = {}
_evicting = threading.Lock()  # gthread workers: one thread at a time drops the oldest


def _describe(messages: Any, prefix: str = "") -> str:
    """marshmallow's error messages as one line: ``limit: …; top[0]: …`` (a repeated
    parameter's bad value by its index)."""
    if isinstance(messages, dict):
        parts = []
        for name, problems in messages.items():
            if isinstance(name, int):  # a List field's item
                where = f"{prefix}[{name}]"
            else:
                where = prefix if name == "_schema" else f"{prefix}.{name}" if prefix else name
            if isinstance(problems, dict):
                parts.append(_describe(problems, where))
            else:
                text = " ".join(problems) if isinstance(problems, list) else str(problems)
                parts.append(f"{where}: {text}" if where else text)
        return "; ".join(parts)
    return str(messages)


def _arguments(schema: Schema) -> dict[str, Any]:
    """The query string as ``schema`` reads it: a List field gets every value of its
    repeated parameter (``?user_id=a&user_id=b``); any other parameter given more than
    once (``?limit=10&limit=20``) is refused rather than one of its values picked."""
    args = request.args
    loaded: dict[str, Any] = {}
    repeated: dict[str, list[str]] = {}
    for name, values in args.lists():
        if isinstance(schema.fields.get(name), fields.List):
            loaded[name] = values
        elif len(values) > 1:
            repeated[name] = [f"Given {len(values)} times; give it once."]
        else:
            loaded[name] = values[0]
    if repeated:
        raise ValidationError(repeated)
    return loaded


def _load(schema: Schema) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = schema.load(_arguments(schema))
    except ValidationError as exc:
        raise ApiError(422, "invalid_query", f"Invalid query parameters: "
                       f"{_describe(exc.messages)}", errors=exc.messages) from None
    return loaded


def parse_query(schema: Schema) -> dict[str, Any]:
    """The request's query parameters loaded by ``schema``; 422 ``invalid_query`` if bad."""
    key = (schema, request.query_string)
    loaded = _loaded.get(key)
    if loaded is None:
        loaded = _load(schema)
        if len(key[1]) > MAX_CACHED_QUERY:
            return loaded
        with _evicting:
            if len(_loaded) >= CACHE_SIZE:
                del _loaded[next(iter(_loaded))]  # the oldest (dicts keep insertion order)
            _loaded[key] = loaded
    return dict(loaded)  # a copy: a view may not change what later requests get
