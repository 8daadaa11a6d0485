"""A measurement probe, not production code: how cheap could validation be?

Compiles the marshmallow schemas of :mod:`tracker.events` (the schema of
record) into plain checks of the same rules (required fields, ``OneOf``,
``Length``, ``Regexp``, ``Equal``, placeholder ids, the schema-level
validators), to time what a fast path for valid entries would cost against
``parse_entry``. An entry the checks do not accept would go to marshmallow
for its error messages. ``python -m bench.fastpath_probe`` prints the
timings and how many entries both paths agree on.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from marshmallow import Schema, ValidationError, validate

from bench.workload import generate
from tracker.events import (
    ENTRY_ID_RE,
    PLACEHOLDER_IDS,
    Event,
    InvalidEvent,
    PlayerId,
    decode_fields,
    parse_entry,
    select_schema,
)

Check = Callable[[str], bool]


def _validator(v: Any) -> Check | None:
    if isinstance(v, validate.OneOf):
        choices = frozenset(v.choices)
        return choices.__contains__
    if isinstance(v, validate.Length):
        lo, hi = v.min, v.max
        return lambda x: (lo is None or len(x) >= lo) and (hi is None or len(x) <= hi)
    if isinstance(v, validate.Regexp):
        pattern: re.Pattern[str] = v.regex  # type: ignore[assignment]
        return lambda x: pattern.match(x) is not None
    if isinstance(v, validate.Equal):
        want = v.comparable
        return lambda x: x == want
    return None


class Compiled:
    def __init__(self, schema: Schema):
        self.schema = schema
        self.fields: list[tuple[str, bool, Any, bool, tuple[Check, ...]]] = []
        for name, f in schema.fields.items():
            checks = tuple(_validator(v) for v in f.validators)
            if any(c is None for c in checks):
                raise TypeError(f"unsupported validator on {name}")
            self.fields.append((name, f.required, f.load_default, isinstance(f, PlayerId),
                                checks))  # type: ignore[arg-type]
        self.hooks = [getattr(schema, n) for n, _, _ in schema._hooks.get("validates_schema", [])]

    def load(self, data: Mapping[str, str]) -> dict[str, Any] | None:
        """The loaded fields, or None when marshmallow must decide (and explain)."""
        out: dict[str, Any] = {}
        for name, required, default, is_id, checks in self.fields:
            value = data.get(name)
            if value is None:
                if required:
                    return None
                if isinstance(default, str) or default is None:
                    out[name] = default
                continue
            if is_id and value.strip() in PLACEHOLDER_IDS:
                return None
            for check in checks:
                if not check(value):
                    return None
            out[name] = value
        try:
            for hook in self.hooks:
                hook(out)
        except ValidationError:
            return None
        return out


_COMPILED: dict[int, Compiled] = {}


def fast_parse(entry_id: str, raw: Mapping[bytes, bytes]) -> Event:
    if not ENTRY_ID_RE.match(entry_id):
        raise InvalidEvent("bad_entry_id", entry_id)
    data = decode_fields(raw)
    schema = select_schema(data)
    compiled = _COMPILED.get(id(schema))
    if compiled is None:
        compiled = _COMPILED[id(schema)] = Compiled(schema)
    loaded = compiled.load(data)
    if loaded is None:
        return parse_entry(entry_id, raw)  # marshmallow decides and explains
    return Event(entry_id, loaded["product_id"], loaded["type"], loaded.get("game_id"),
                 loaded.get("event_name"), data)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=100_000)
    args = ap.parse_args(argv)
    entries = generate(args.events, seed=5)
    raw = [(f"1700000000000-{i}", {k.encode(): v.encode() for k, v in e.items()})
           for i, e in enumerate(entries)]
    for name, fn in (("parse_entry (marshmallow)", parse_entry),
                     ("compiled checks of the same schemas", fast_parse)):
        start = time.perf_counter()
        for eid, fields in raw:
            fn(eid, fields)
        secs = time.perf_counter() - start
        print(f"{secs / len(raw) * 1e6:7.2f} µs/entry  {name}")
    same = sum(parse_entry(e, f) == fast_parse(e, f) for e, f in raw)
    print(f"same Event from both for {same:,} of {len(raw):,} entries")


if __name__ == "__main__":
    main()
