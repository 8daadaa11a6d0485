"""A validation fast path for the worker, compiled from the marshmallow schemas.

Why: in the worker, marshmallow's ``Schema.load`` plus decoding and schema
choice were over half of the CPU per event (README, "Throughput"). Valid
entries are nearly all of the traffic, and for them the same rules can run as
plain checks at a fraction of the cost.

The schemas in :mod:`tracker.events` stay the one schema of record. At import,
each is compiled from its declared load fields: ``required``, ``load_default``,
the field type (``String`` or :class:`~tracker.events.PlayerId`), the
validators (``OneOf``, ``Length``, ``Regexp``, ``Equal``) and its
``@validates_schema`` methods, which the fast path calls itself. Compiled
means generated: one Python function per schema with every check written out
(``CompiledSchema.source`` shows it); field names appear in it only as string
literals. A schema with
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

import dataclasses
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

# Field classes whose deserialisation of a str is known: String returns it as it
# is; PlayerId also refuses placeholders. Exact types: a subclass may do more.
FIELD_TYPES: tuple[type[fields.Field[Any]], ...] = (fields.String, PlayerId)
# Hooks that would change or check the loaded data in ways not compiled here.
UNSUPPORTED_HOOKS = ("pre_load", "post_load", "validates")


class Unsupported(Exception):
    """A schema uses something the compiler does not know; marshmallow keeps it."""


def _validator_expr(v: object, value: str, env: dict[str, Any]) -> str:
    """A Python expression, true exactly when marshmallow validator ``v`` accepts the str
    in variable ``value``; constants it needs are added to ``env``."""
    const = f"c{len(env)}"
    if type(v) is validate.OneOf:
        choices = tuple(v.choices)
        if not all(type(c) is str for c in choices):  # str hash/eq: tuple `in` == set `in`
            raise Unsupported(f"OneOf with non-str choices {choices!r}")
        env[const] = frozenset(choices)
        return f"{value} in {const}"
    if type(v) is validate.Length:
        lo, hi, eq = v.min, v.max, v.equal
        if eq is not None:
            return f"len({value}) == {int(eq)}"
        low = 0 if lo is None else int(lo)
        return f"len({value}) >= {low}" if hi is None else f"{low} <= len({value}) <= {int(hi)}"
    if type(v) is validate.Regexp:
        if not isinstance(v.regex.pattern, str):
            raise Unsupported("Regexp over bytes")
        env[const] = v.regex.match
        return f"{const}({value}) is not None"
    if type(v) is validate.Equal:
        if type(v.comparable) is not str:
            raise Unsupported(f"Equal to non-str {v.comparable!r}")
        env[const] = v.comparable
        return f"{value} == {const}"
    raise Unsupported(f"validator {v!r}")


@dataclass(frozen=True)
class CompiledSchema:
    """One schema's load rules as a generated function (see :func:`compile_schema`)."""

    schema: Schema
    source: str  # the generated code, for reading and for tracebacks
    # (entry_id, data) -> the Event parse_entry would make, or None: not sure
    event: Callable[[str, Mapping[str, str]], Event | None]


def _event_maker() -> Callable[[str, str, str, str | None, str | None, Mapping[str, str]],
                                Event]:
    """``Event(...)`` for the generated code, at half the cost: a frozen dataclass's
    ``__init__`` sets each field through ``object.__setattr__``; this sets the slots
    through their descriptors. The Event is the same, and as immutable."""
    new = object.__new__
    setters = [Event.__dict__[f.name].__set__ for f in dataclasses.fields(Event)]
    if [f.name for f in dataclasses.fields(Event)] != [
            "entry_id", "product_id", "type", "game_id", "event_name", "data"]:
        raise Unsupported("Event's fields changed: update _event_maker")
    s0, s1, s2, s3, s4, s5 = setters

    def make(entry_id: str, product_id: str, kind: str, game_id: str | None,
             event_name: str | None, data: Mapping[str, str]) -> Event:
        event: Event = new(Event)
        s0(event, entry_id)
        s1(event, product_id)
        s2(event, kind)
        s3(event, game_id)
        s4(event, event_name)
        s5(event, data)
        return event

    return make


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
    """Compile ``schema``'s load rules; raise :class:`Unsupported` if any is not known.

    The result is one generated function per schema, the checks written out inline:
    interpreting them from tables cost 2 µs per event, most of validation."""
    if schema.unknown != EXCLUDE or schema.many or schema.partial:
        raise Unsupported("only unknown=EXCLUDE, many=False, partial=None")
    env: dict[str, Any] = {"Event": MAKE_EVENT, "is_placeholder": PlayerId.is_placeholder,
                           "unknown": schema.unknown}
    required: list[str] = []  # statements reading the required fields (KeyError: missing)
    optional: list[str] = []
    checks: list[str] = []
    loaded: list[str] = []  # statements building marshmallow's result, for the hooks
    var: dict[str, str] = {}
    always: set[str] = set()  # fields in marshmallow's result whatever the entry holds
    for name, f in schema.load_fields.items():
        if type(f) not in FIELD_TYPES:
            raise Unsupported(f"{name}: field type {type(f).__name__}")
        if f.data_key not in (None, name) or f.attribute not in (None, name) or "." in name:
            raise Unsupported(f"{name}: data_key/attribute")
        if f.pre_load or f.post_load:
            raise Unsupported(f"{name}: field pre_load/post_load")
        v = var[name] = f"v{len(var)}"
        if f.required:
            required.append(f"        {v} = data[{name!r}]")
        else:
            optional.append(f"    {v} = data.get({name!r})")
        rules = [f"not is_placeholder({v})"] if type(f) is PlayerId else []
        rules += [_validator_expr(x, v, env) for x in f.validators]
        if rules:
            test = " and ".join(rules)
            checks.append(f"    if not ({test}):" if f.required
                          else f"    if {v} is not None and not ({test}):")
            checks.append("        return None")
        if not f.required and f.load_default is not missing:
            if not (f.load_default is None or type(f.load_default) is str):
                raise Unsupported(f"{name}: load_default {f.load_default!r}")
            checks.append(f"    if {v} is None:")
            checks.append(f"        {v} = {f.load_default!r}")
        if f.required or f.load_default is not missing:
            always.add(name)
            loaded.append(f"    loaded[{name!r}] = {v}")
        else:
            loaded.append(f"    if {v} is not None:")
            loaded.append(f"        loaded[{name!r}] = {v}")
    if not {"product_id", "type"} <= always:  # parse_entry reads loaded[...] for both
        raise Unsupported("product_id and type must always be loaded")
    lines = ["def event(entry_id, data):"]
    if required:
        lines += ["    try:", *required, "    except KeyError:", "        return None"]
    lines += optional + checks
    hooks = _hooks(schema)
    if hooks:  # called as marshmallow calls them; any exception: marshmallow decides
        lines += ["    loaded = {}", *loaded, "    try:"]
        for i, (hook, pass_original) in enumerate(hooks):
            env[f"hook{i}"] = hook
            args = "loaded, data" if pass_original else "loaded"
            lines.append(f"        hook{i}({args}, partial=None, many=False, unknown=unknown)")
        lines += ["    except Exception:", "        return None"]

    game_id, event_name = var.get("game_id", "None"), var.get("event_name", "None")
    lines.append(f"    return Event(entry_id, {var['product_id']}, {var['type']}, "
                 f"{game_id}, {event_name}, data)")
    source = "\n".join(lines) + "\n"
    code = compile(source, f"<fast path: {type(schema).__name__}>", "exec")
    exec(code, env)
    return CompiledSchema(schema, source, env["event"])


def compile_all(schemas: Iterable[Schema]) -> dict[int, CompiledSchema]:
    """Compiled schemas by ``id(schema)``; schemas that cannot be compiled are left out."""
    out: dict[int, CompiledSchema] = {}
    for schema in schemas:
        try:
            out[id(schema)] = compile_schema(schema)
        except Unsupported:
            continue
    return out


MAKE_EVENT = _event_maker()
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
    return None if compiled is None else compiled.event(entry_id, data)


def parse(entry_id: str, raw: RawFields) -> Event:
    """:func:`~tracker.events.parse_entry`, through the fast path when it is sure."""
    event = fast_parse(entry_id, raw)
    return event if event is not None else parse_entry(entry_id, raw)
