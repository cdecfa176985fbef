"""The custom scalars: Number (sizes beyond 2^31), JSON and DateTime.

Pure functions; ``scalar_types()`` binds them to the schema.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ariadne import ScalarType
from graphql import FloatValueNode, IntValueNode, ValueNode, value_from_ast_untyped


def serialize_number(value: Any) -> int | float:
    """Whole numbers go out as JSON integers (of any size), others as floats."""
    if isinstance(value, bool):
        raise TypeError("Number cannot represent a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        if not math.isfinite(value):
            raise ValueError("Number cannot represent a non-finite value")
        if value == int(value):
            return int(value)
        return float(value)
    if isinstance(value, str):
        return serialize_number(_decimal(value))
    raise TypeError(f"Number cannot represent {type(value).__name__}")


def parse_number(value: Any) -> int:
    """Accept integers and floats that are whole (``3e9``, ``10.0``); everything else is an error."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("Number must be a whole number")
    if isinstance(value, float) and (not math.isfinite(value) or value != int(value)):
        raise ValueError("Number must be a whole number")
    return int(value)


def parse_number_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> int:
    if isinstance(node, IntValueNode | FloatValueNode):
        number = _decimal(node.value)
        if number != number.to_integral_value():
            raise ValueError("Number must be a whole number")
        return int(number)
    raise ValueError("Number must be a numeric literal")


def _decimal(text: str) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {text!r}") from exc
    if not number.is_finite():
        raise ValueError("Number must be finite")
    return number


def serialize_datetime(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        text: str = value.astimezone(UTC).isoformat(timespec="milliseconds")
        return text.replace("+00:00", "Z")
    if isinstance(value, str):
        return serialize_datetime(parse_datetime(value))
    raise TypeError(f"DateTime cannot represent {type(value).__name__}")


def parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError("DateTime must be an ISO 8601 string") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_datetime_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> datetime:
    return parse_datetime(value_from_ast_untyped(node, variables))


def parse_json_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    return value_from_ast_untyped(node, variables)


def scalar_types() -> list[ScalarType]:
    return [
        ScalarType(
            "Number",
            serializer=serialize_number,
            value_parser=parse_number,
            literal_parser=parse_number_literal,
        ),
        ScalarType(
            "JSON",
            serializer=lambda value: value,
            value_parser=lambda value: value,
            literal_parser=parse_json_literal,
        ),
        ScalarType(
            "DateTime",
            serializer=serialize_datetime,
            value_parser=parse_datetime,
            literal_parser=parse_datetime_literal,
        ),
    ]
