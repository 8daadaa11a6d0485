"""The fast path's compiler: it follows the schemas of record and refuses what it does not know."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from marshmallow import EXCLUDE, RAISE, Schema, fields, pre_load, validate, validates_schema

from tests.support.varcade import game_over
from tests.tracker.test_fastpath import ALL_SCHEMAS, texts
from tracker import fastpath
from tracker.events import GameOverSchema, PlayerId
from tracker.fastpath import COMPILED, Unsupported, compile_schema


def validator_check(v: object) -> Callable[[str], bool]:
    """Validator ``v`` as the check on one str that the generated code inlines."""
    env: dict[str, Any] = {}
    return eval(f"lambda s: {fastpath._validator_expr(v, 's', env)}", env)  # type: ignore[no-any-return]


def test_every_schema_of_record_is_compiled() -> None:
    assert set(COMPILED) == {id(s) for s in ALL_SCHEMAS}


@given(value=texts)
def test_compiled_validators_equal_marshmallows(value: str) -> None:
    validators: list[Any] = [
        validate.OneOf(["a", "bb", "gameplay"]), validate.Length(min=2), validate.Length(max=3),
        validate.Length(min=1, max=128), validate.Length(equal=2), validate.Regexp(r"^[a-z]+\Z"),
        validate.Equal("gameplay"), validate.Length(min=0, max=256)]
    validators += [v for s in ALL_SCHEMAS for f in s.load_fields.values() for v in f.validators]
    for v in validators:
        try:
            v(value)
            ok = True
        except Exception:
            ok = False
        assert validator_check(v)(value) is ok, v


def test_a_changed_schema_changes_the_fast_path() -> None:
    class ShortIds(GameOverSchema):
        class Meta:
            unknown = EXCLUDE

        winner_id = PlayerId(required=True, validate=validate.Length(max=3))

    compiled = compile_schema(ShortIds())
    row = game_over("exrps", "abc", "loser")
    assert compiled.event("1-0", row) is not None
    assert compiled.event("1-0", {**row, "winner_id": "abcd"}) is None
    assert compiled.event("1-0", {**row, "winner_id": "null"}) is None
    assert compiled.event("1-0", {**row, "loser_id": "abc"}) is None  # inherited self-play hook


class _Base(Schema):
    class Meta:
        unknown = EXCLUDE

    product_id = fields.String(required=True)
    type = fields.String(required=True)


class _Integer(_Base):
    score = fields.Integer()


class _CustomValidator(_Base):
    name = fields.String(validate=lambda s: s.isupper())


class _Range(_Base):
    name = fields.String(validate=validate.Range(min="a"))


class _PreLoad(_Base):
    @pre_load
    def _strip(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return data


class _PassCollection(_Base):
    @validates_schema(pass_collection=True)
    def _check(self, data: Any, **_: Any) -> None:
        pass


class _Raise(_Base):
    class Meta:
        unknown = RAISE


class _DataKey(_Base):
    name = fields.String(data_key="Name")


class _CallableDefault(_Base):
    name = fields.String(load_default=lambda: "x")


class _SubId(PlayerId):
    pass


class _SubclassedField(_Base):
    user_id = _SubId()


class _NoType(Schema):
    class Meta:
        unknown = EXCLUDE

    product_id = fields.String(required=True)


@pytest.mark.parametrize("schema_class", [_Integer, _CustomValidator, _Range, _PreLoad,
                                          _PassCollection, _Raise, _DataKey, _CallableDefault,
                                          _SubclassedField, _NoType])
def test_unknown_rules_are_not_compiled(schema_class: type[Schema]) -> None:
    with pytest.raises(Unsupported):
        compile_schema(schema_class())
    assert fastpath.compile_all([schema_class()]) == {}


def test_field_names_are_data_in_the_generated_code_never_code() -> None:
    odd = "it's a \"name\"\n) or True #"
    schema_class = type("_Odd", (_Base,), {odd: fields.String(
        required=True, validate=validate.OneOf(["yes"]))})
    compiled = compile_schema(schema_class())
    row = {"product_id": "p", "type": "t"}
    assert compiled.event("1-0", {**row, odd: "yes"}) is not None
    assert compiled.event("1-0", {**row, odd: "no"}) is None
    assert compiled.event("1-0", row) is None  # required
    assert repr(odd) in compiled.source
