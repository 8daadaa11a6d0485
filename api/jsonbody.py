"""JSON answers of the hot routes: orjson, with the exact bytes Flask's ``jsonify`` makes.

``jsonify`` goes through :func:`json.dumps`, which costs 15-20 µs on a page of
rows; orjson takes 1-2 µs. The two agree byte for byte (compact separators,
the keys in insertion order) except in these cases, where we keep Flask's
bytes by falling back to it:

* non-ASCII text and DEL: Flask escapes them (``\\u00e9``, ``\\u007f``), orjson
  writes UTF-8 and a raw DEL byte;
* floats below 1e-4 in magnitude: Python writes ``1e-05`` and ``1e-07``,
  orjson ``0.00001`` and ``1e-7`` (found by :func:`_same_as_flask`, which may
  also match inside a string: that only costs the fallback);
* infinite and NaN floats: Python writes ``Infinity`` and ``NaN``, orjson
  ``null``, so any ``null`` (often a legitimate one) also takes the fallback;
* what orjson refuses (integers over 64 bits, non-string keys) and types
  that Flask's encoder writes its own way (dates, dataclasses, decimals,
  subclasses of str and int): orjson passes these to :func:`_refuse`.

In debug mode Flask indents its JSON; so do we, by handing over to it.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from flask import Response, current_app, jsonify

# orjson's spellings that Python's json writes another way: a fixed "0.0000..."
# for exponent -5, a one-digit exponent ("e-7") where a number ends (before a
# delimiter, or the newline after a bare number), and null for inf and NaN.
# (Checked with plain substring searches plus one regex with a literal start: an
# alternation regex, or a lookbehind first, takes 10-15 µs on a page, more than
# the whole orjson call.) Requiring the delimiter keeps UUIDs such as
# "...-4c1e-8b0a-..." on the fast path: about half of all pages of UUIDs hold one.
_SHORT_EXPONENT = re.compile(rb"e-[0-9](?=[,}\]\n])")


_OPTIONS = (orjson.OPT_APPEND_NEWLINE | orjson.OPT_PASSTHROUGH_SUBCLASS
            | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS)


def _refuse(obj: Any) -> Any:
    raise TypeError(type(obj).__name__)


def _same_as_flask(body: bytes) -> bool:
    return (body.isascii() and body.find(b"\x7f") < 0 and body.find(b"null") < 0
            and body.find(b"0.0000") < 0 and _SHORT_EXPONENT.search(body) is None)


def dumps(obj: Any) -> bytes | None:
    """``obj`` as compact JSON plus a newline, as Flask writes it; None if only Flask can."""
    try:
        body = orjson.dumps(obj, default=_refuse, option=_OPTIONS)
    except orjson.JSONEncodeError:
        return None
    return body if _same_as_flask(body) else None


def json_response(obj: Any) -> Response:
    """A 200 ``application/json`` answer, the same as ``jsonify(obj)``, built faster."""
    app = current_app
    body = None if app.debug else dumps(obj)
    if body is None:
        return jsonify(obj)
    return app.response_class(body, mimetype="application/json")
