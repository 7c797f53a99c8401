"""Plain values to DynamoDB attribute values and back, as boto3.dynamodb.types does it.

Not boto3's TypeSerializer: importing boto3.dynamodb.types imports the boto3 package (its session,
s3transfer, the resource layer), and the dedupe write is made by the containing functions before
the containing call, where every import counts (bench section 3). The record holds JSON-ish
values only, so this covers what they can be: str, bool, None, int and Decimal, lists, maps and
sets of strings. Numbers keep DynamoDB's limits (38 digits) and read back as Decimal, as with
boto3; anything else is a TypeError, never a silent conversion.
tests/unit/test_record_attributes.py checks that both agree on every value of those kinds.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any

# DynamoDB's number rules, the context boto3.dynamodb.types uses.
_NUMBERS = Context(Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow])


def to_attribute(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):  # before int: bool is an int
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | Decimal):
        return {"N": _number(value)}
    if isinstance(value, list | tuple):
        return {"L": [to_attribute(item) for item in value]}
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise TypeError(f"a DynamoDB map's keys are strings, not {sorted({type(k).__name__ for k in value})}")
        return {"M": {key: to_attribute(item) for key, item in value.items()}}
    if isinstance(value, set | frozenset) and value and all(isinstance(item, str) for item in value):
        return {"SS": list(value)}
    raise TypeError(f"no DynamoDB attribute for {type(value).__name__} {value!r}")


def from_attribute(attribute: Mapping[str, Any]) -> Any:
    ((kind, value),) = attribute.items()
    if kind == "NULL":
        return None
    if kind in ("S", "BOOL"):
        return value
    if kind == "N":
        return _NUMBERS.create_decimal(value)
    if kind == "L":
        return [from_attribute(item) for item in value]
    if kind == "M":
        return {key: from_attribute(item) for key, item in value.items()}
    if kind == "SS":
        return set(value)
    raise TypeError(f"the record holds no DynamoDB {kind} values")


def _number(value: int | Decimal) -> str:
    number = str(_NUMBERS.create_decimal(value))
    if number in ("Infinity", "NaN", "-Infinity", "sNaN"):
        raise TypeError(f"DynamoDB holds no {number}")
    return number
