"""Query-string parsing with marshmallow: bad parameters are a JSON 422, never a 500."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema, ValidationError

from api.errors import ApiError


def _describe(messages: Any) -> str:
    if isinstance(messages, dict):
        parts = []
        for name, problems in messages.items():
            text = " ".join(problems) if isinstance(problems, list) else str(problems)
            parts.append(text if name == "_schema" else f"{name}: {text}")
        return "; ".join(parts)
    return str(messages)


def parse_query(schema: Schema) -> dict[str, Any]:
    """The request's query parameters loaded by ``schema``; 422 ``invalid_query`` if bad."""
    try:
        loaded: dict[str, Any] = schema.load(request.args.to_dict(flat=True))
    except ValidationError as exc:
        raise ApiError(422, "invalid_query", f"Invalid query parameters: "
                       f"{_describe(exc.messages)}", errors=exc.messages) from None
    return loaded
