"""A validation fast path for the worker, compiled from the marshmallow schemas.

Why: in the worker, marshmallow's ``Schema.load`` plus decoding and schema
choice were over half of the CPU per event (README, "Throughput"). Valid
entries are nearly all of the traffic, and for them the same rules can run as
plain checks at a fraction of the cost.

The schemas in :mod:`tracker.events` stay the one schema of record. At import,
each is compiled from its declared load fields: ``required``, ``load_default``,
the field type (``String`` or :class:`~tracker.events.PlayerId`), the
validators (``OneOf``, ``Length``, ``Regexp``, ``Equal``) and its
``@validates_schema`` methods, which the fast path calls itself. A schema with
anything else (another field type or validator, a pre/post-load hook, a
``data_key``, ``unknown`` other than ``EXCLUDE`` …) is not compiled, and its
entries always go to marshmallow.

The contract (proven by ``tests/tracker/test_fastpath.py``): :func:`fast_parse`
returns exactly the :class:`~tracker.events.Event` that
:func:`~tracker.events.parse_entry` returns, or ``None`` for "not sure". It
never decides a rejection, so dead-letter reasons and details are always
marshmallow's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, missing, validate

from tracker.events import (
    BARE_SELECT_WEAPON,
    ENTRY_ID_RE,
    SCHEMAS,
    Event,
    InvalidEvent,
    PlayerId,
    RawFields,
    TextFields,
    parse_entry,
    select_schema,
)

Check = Callable[[str], bool]
Loaded = dict[str, str | None]

# Field classes whose deserialisation of a str is known: String returns it as it
# is; PlayerId also refuses placeholders. Exact types: a subclass may do more.
FIELD_TYPES: tuple[type[fields.Field[Any]], ...] = (fields.String, PlayerId)
# Hooks that would change or check the loaded data in ways not compiled here.
UNSUPPORTED_HOOKS = ("pre_load", "post_load", "validates")


class Unsupported(Exception):
    """A schema uses something the compiler does not know; marshmallow keeps it."""


def _validator_check(v: object) -> Check:
    """A check equal to marshmallow validator ``v`` on str values."""
    if type(v) is validate.OneOf:
        choices = tuple(v.choices)
        if not all(type(c) is str for c in choices):  # str hash/eq: tuple `in` == set `in`
            raise Unsupported(f"OneOf with non-str choices {choices!r}")
        return frozenset(choices).__contains__
    if type(v) is validate.Length:
        lo, hi, eq = v.min, v.max, v.equal
        if eq is not None:
            return lambda s: len(s) == eq
        low = 0 if lo is None else lo
        if hi is None:
            return lambda s: len(s) >= low
        return lambda s: low <= len(s) <= hi
    if type(v) is validate.Regexp:
        pattern = v.regex
        if not isinstance(pattern.pattern, str):
            raise Unsupported("Regexp over bytes")
        match = pattern.match
        return lambda s: match(s) is not None
    if type(v) is validate.Equal:
        want = v.comparable
        if type(want) is not str:
            raise Unsupported(f"Equal to non-str {want!r}")
        return want.__eq__
    raise Unsupported(f"validator {v!r}")


def _all(checks: list[Check]) -> Check | None:
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda s: first(s) and second(s)
    return lambda s: all(check(s) for check in checks)


@dataclass(frozen=True, slots=True)
class CompiledSchema:
    """The rules of one schema as plain data and checks (see :func:`compile_schema`)."""

    schema: Schema
    required: frozenset[str]
    names: tuple[str, ...]  # every load field, in declaration order
    ids: tuple[str, ...]  # PlayerId fields: a placeholder value is a missing id
    checks: tuple[tuple[str, Check], ...]  # the validators, on a field's value when present
    defaults: tuple[tuple[str, str | None], ...]  # load_default of optional fields
    hooks: tuple[tuple[Callable[..., Any], bool], ...]  # (validates_schema, pass_original)

    def load(self, data: Mapping[str, str]) -> Loaded | None:
        """What ``schema.load(data)`` returns, or None if it may fail."""
        if not data.keys() >= self.required:
            return None
        is_placeholder = PlayerId.is_placeholder
        for name in self.ids:
            value = data.get(name)
            if value is not None and is_placeholder(value):
                return None
        for name, check in self.checks:
            value = data.get(name)
            if value is not None and not check(value):
                return None
        loaded: Loaded = {name: data[name] for name in self.names if name in data}
        for name, default in self.defaults:
            if name not in loaded:
                loaded[name] = default
        for hook, pass_original in self.hooks:
            # Called as marshmallow calls them; any exception means marshmallow decides.
            args = (loaded, data) if pass_original else (loaded,)
            try:
                hook(*args, partial=None, many=False, unknown=self.schema.unknown)
            except Exception:
                return None
        return loaded


def _hooks(schema: Schema) -> tuple[tuple[Callable[..., Any], bool], ...]:
    # Schema._hooks is marshmallow's resolved hook table (name, pass_collection, options);
    # reading it is how we know that nothing else runs in load().
    table: Mapping[str, list[tuple[str, bool, dict[str, Any]]]] = schema._hooks
    for tag in UNSUPPORTED_HOOKS:
        if table.get(tag):
            raise Unsupported(f"{tag} hook")
    out: list[tuple[Callable[..., Any], bool]] = []
    for attr, pass_collection, options in table.get("validates_schema", []):
        if pass_collection:
            raise Unsupported("validates_schema(pass_collection=True)")
        out.append((getattr(schema, attr), bool(options.get("pass_original", False))))
    return tuple(out)


def compile_schema(schema: Schema) -> CompiledSchema:
    """Compile ``schema``'s load rules; raise :class:`Unsupported` if any is not known."""
    if schema.unknown != EXCLUDE or schema.many or schema.partial:
        raise Unsupported("only unknown=EXCLUDE, many=False, partial=None")
    required: set[str] = set()
    ids: list[str] = []
    checks: list[tuple[str, Check]] = []
    defaults: list[tuple[str, str | None]] = []
    for name, f in schema.load_fields.items():
        if type(f) not in FIELD_TYPES:
            raise Unsupported(f"{name}: field type {type(f).__name__}")
        if f.data_key not in (None, name) or f.attribute not in (None, name) or "." in name:
            raise Unsupported(f"{name}: data_key/attribute")
        if f.pre_load or f.post_load:
            raise Unsupported(f"{name}: field pre_load/post_load")
        if f.required:
            required.add(name)
        elif f.load_default is not missing:
            if not (f.load_default is None or type(f.load_default) is str):
                raise Unsupported(f"{name}: load_default {f.load_default!r}")
            defaults.append((name, f.load_default))
        if type(f) is PlayerId:
            ids.append(name)
        check = _all([_validator_check(v) for v in f.validators])
        if check is not None:
            checks.append((name, check))
    names = tuple(schema.load_fields)
    loaded_always = required | {name for name, _ in defaults}
    if not {"product_id", "type"} <= loaded_always:  # parse_entry reads loaded[...] for both
        raise Unsupported("product_id and type must always be loaded")
    return CompiledSchema(schema, frozenset(required), names, tuple(ids), tuple(checks),
                          tuple(defaults), _hooks(schema))


def compile_all(schemas: Iterable[Schema]) -> dict[int, CompiledSchema]:
    """Compiled schemas by ``id(schema)``; schemas that cannot be compiled are left out."""
    out: dict[int, CompiledSchema] = {}
    for schema in schemas:
        try:
            out[id(schema)] = compile_schema(schema)
        except Unsupported:
            continue
    return out


# Keyed by id(): the schema objects live as long as tracker.events does.
COMPILED = compile_all([*SCHEMAS.values(), BARE_SELECT_WEAPON])


def fast_parse(entry_id: str, raw: RawFields) -> Event | None:
    """The Event ``parse_entry`` would return, or None: then ask ``parse_entry``."""
    if type(entry_id) is not str or ENTRY_ID_RE.match(entry_id) is None:
        return None
    if type(raw) is TextFields:
        data: Mapping[str, str] = raw
    else:
        try:
            # bytes.decode refuses str, bytearray …: those go the slow way (decode_fields).
            data = {bytes.decode(k): bytes.decode(v)  # type: ignore[arg-type]
                    for k, v in raw.items()}
        except (TypeError, UnicodeDecodeError):
            return None
    try:
        schema = select_schema(data)  # the same routing as parse_entry, not a copy of it
    except InvalidEvent:
        return None
    compiled = COMPILED.get(id(schema))
    if compiled is None:
        return None
    loaded = compiled.load(data)
    if loaded is None:
        return None
    return Event(entry_id, loaded["product_id"], loaded["type"],  # type: ignore[arg-type]
                 loaded.get("game_id"), loaded.get("event_name"), data)


def parse(entry_id: str, raw: RawFields) -> Event:
    """:func:`~tracker.events.parse_entry`, through the fast path when it is sure."""
    event = fast_parse(entry_id, raw)
    return event if event is not None else parse_entry(entry_id, raw)
