"""Tag rules: at most 15, at most 50 characters, lowercased, de-duplicated."""

from __future__ import annotations

from typing import Any

import pytest

from services.gateway.tags import MAX_TAG_LENGTH, MAX_TAGS, normalize_filter_tags, normalize_tags
from shared.errors import ValidationFailed


def _refusal(raw: Any) -> dict[str, Any]:
    with pytest.raises(ValidationFailed) as caught:
        normalize_tags(raw)
    problem: dict[str, Any] = (caught.value.data or {})["invalidFields"]["tags"]
    return problem


def test_tags_are_lowercased_trimmed_and_deduplicated_in_order() -> None:
    assert normalize_tags([" Holiday ", "beach", "HOLIDAY", "Two  Words"]) == ("holiday", "beach", "two words")
    assert normalize_tags(None) == () and normalize_tags([]) == ()


def test_limits_count_after_deduplication() -> None:
    assert len(normalize_tags([f"t{i}" for i in range(MAX_TAGS)] + ["T0"])) == MAX_TAGS
    assert normalize_tags(["x" * MAX_TAG_LENGTH]) == ("x" * MAX_TAG_LENGTH,)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ([f"t{i}" for i in range(MAX_TAGS + 1)], "TOO_MANY"),
        (["x" * (MAX_TAG_LENGTH + 1)], "TOO_LONG"),
        (["ok", "  "], "EMPTY"),
        (["ok", 3], "INVALID"),
        ("holiday", "INVALID"),
    ],
)
def test_broken_rules_are_validation_errors_with_the_field(raw: Any, code: str) -> None:
    assert _refusal(raw)["code"] == code


def test_filter_tags_are_normalized_and_lenient() -> None:
    assert normalize_filter_tags(["A", " a ", "", None, "b"]) == ("a", "b")
    assert normalize_filter_tags(None) == ()
