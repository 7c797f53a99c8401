"""record.attributes writes and reads what boto3's TypeSerializer/TypeDeserializer would, for every
kind of value the record holds, and refuses the rest as boto3 does."""

from __future__ import annotations

from decimal import Decimal

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from record.attributes import from_attribute, to_attribute

_numbers = st.one_of(
    st.integers(min_value=-(10**38) + 1, max_value=10**38 - 1),
    st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-(10**20), max_value=10**20),
)
_scalars = st.one_of(st.none(), st.booleans(), st.text(max_size=20), _numbers)
record_values = st.recursive(
    st.one_of(_scalars, st.frozensets(st.text(max_size=8), min_size=1, max_size=4).map(set)),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _canonical(attribute):
    """String sets are unordered: compare them as sorted lists (a map's key may be "SS" too)."""
    ((kind, value),) = attribute.items()
    if kind == "SS":
        return {kind: sorted(value)}
    if kind == "L":
        return {kind: [_canonical(item) for item in value]}
    if kind == "M":
        return {kind: {key: _canonical(item) for key, item in value.items()}}
    return attribute


@given(record_values)
def test_writes_what_boto3_writes(value):
    assert _canonical(to_attribute(value)) == _canonical(TypeSerializer().serialize(value))


@given(record_values)
def test_reads_back_what_boto3_reads(value):
    attribute = TypeSerializer().serialize(value)
    assert from_attribute(attribute) == TypeDeserializer().deserialize(attribute)


@given(record_values)
def test_round_trip(value):
    assert _canonical(to_attribute(from_attribute(to_attribute(value)))) == _canonical(to_attribute(value))


def test_numbers_read_back_as_decimal_as_with_boto3():
    assert from_attribute({"N": "7"}) == Decimal(7)
    assert isinstance(from_attribute({"N": "7"}), Decimal)


@pytest.mark.parametrize("value", [1.5, float("nan"), Decimal("NaN"), Decimal("Infinity"), object()])
def test_refuses_what_boto3_refuses(value):
    with pytest.raises(TypeError):
        TypeSerializer().serialize(value)
    with pytest.raises(TypeError):
        to_attribute(value)


def test_a_number_over_dynamodbs_38_digits_fails_as_with_boto3():
    with pytest.raises(ArithmeticError) as theirs:
        TypeSerializer().serialize(10**39)
    with pytest.raises(ArithmeticError) as ours:
        to_attribute(10**39)
    assert type(ours.value) is type(theirs.value)


def test_refuses_bytes_which_the_record_never_holds():
    with pytest.raises(TypeError):
        to_attribute(b"raw")


def test_refuses_an_empty_set_which_dynamodb_would_reject():
    with pytest.raises(TypeError):
        to_attribute(set())


def test_refuses_attribute_kinds_the_record_never_writes():
    with pytest.raises(TypeError):
        from_attribute({"B": b"raw"})


def test_refuses_a_map_key_that_is_not_a_string_rather_than_converting_it():
    with pytest.raises(TypeError):
        to_attribute({1: "one"})
