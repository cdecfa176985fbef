"""Which format a variant is served in: ?format= first, then Accept (AVIF, then WebP)."""

from __future__ import annotations

import pytest

from services.download.negotiation import accepted_types, negotiated_format, requested_format
from shared.errors import InvalidFormat


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("webp", "webp"), ("AVIF", "avif"), ("jpg", "jpeg"), ("jpeg", "jpeg"), (" png ", "png")],
)
def test_format_parameter(value: str | None, expected: str | None) -> None:
    assert requested_format(value) == expected


@pytest.mark.parametrize("value", ["gif", "svg", "", "tiff", "webp;x"])
def test_unknown_format_parameter_is_invalid(value: str) -> None:
    with pytest.raises(InvalidFormat) as caught:
        requested_format(value)
    assert caught.value.status == 400 and caught.value.code == "INVALID_FORMAT"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("image/avif,image/webp,image/apng,image/*,*/*;q=0.8", "avif"),  # Chrome
        ("image/webp,*/*", "webp"),  # older Firefox
        ("image/avif;q=0,image/webp", "webp"),  # refused explicitly
        ("IMAGE/AVIF; q=0.5", "avif"),
        ("image/*,*/*", None),  # wildcards never choose a format
        ("image/avif;q=abc", None),
        ("", None),
        (None, None),
    ],
)
def test_negotiation(accept: str | None, expected: str | None) -> None:
    assert negotiated_format(accept) == expected


def test_accepted_types_keeps_only_explicit_types() -> None:
    assert accepted_types("text/html, image/webp;q=0.9, */*;q=0.1, image/png;q=0") == {"text/html", "image/webp"}
