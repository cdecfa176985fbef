"""Width snapping and target sizes (design flow C)."""

from __future__ import annotations

import pytest

from shared.errors import InvalidWidth
from shared.geometry import DEFAULT_WIDTHS, parse_width, snap_width, target_size


@pytest.mark.parametrize(
    ("requested", "snapped"),
    [(282, 300), (300, 300), (301, 500), (3000, 2500), (50, 100), (1, 100), (2500, 2500), (1001, 1500)],
)
def test_snaps_to_the_first_allowed_width_at_or_above(requested: int, snapped: int) -> None:
    assert snap_width(requested, DEFAULT_WIDTHS) == snapped


def test_snapping_does_not_depend_on_the_order_of_the_list() -> None:
    assert snap_width(420, [1000, 100, 500]) == 500
    assert snap_width(5000, [1000, 100, 500]) == 1000


def test_an_empty_list_is_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        snap_width(100, [])


@pytest.mark.parametrize("raw", ["282", " 282 ", "0300"])
def test_parses_whole_numbers(raw: str) -> None:
    assert parse_width(raw) == int(raw.strip())


@pytest.mark.parametrize("raw", ["abc", "", "-5", "0", "1.5", "1e3", "٣٠٠", "9999999", "300px"])
def test_anything_else_is_invalid_width(raw: str) -> None:
    with pytest.raises(InvalidWidth) as caught:
        parse_width(raw)
    assert caught.value.status == 400 and caught.value.code == "INVALID_WIDTH"


@pytest.mark.parametrize(
    ("source", "width", "expected"),
    [
        ((4000, 3000), 300, (300, 225)),
        ((3000, 4000), 300, (300, 400)),
        ((1000, 1), 100, (100, 1)),  # never zero high
        ((120, 80), 2500, (120, 80)),  # never upscaled
        ((300, 200), 300, (300, 200)),
    ],
)
def test_target_size_keeps_the_aspect_ratio_and_never_upscales(
    source: tuple[int, int], width: int, expected: tuple[int, int]
) -> None:
    assert target_size(source, width) == expected
