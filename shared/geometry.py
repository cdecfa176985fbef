"""Width snapping and target sizes: pure functions."""

from __future__ import annotations

from collections.abc import Sequence

from shared.errors import InvalidWidth

DEFAULT_WIDTHS: tuple[int, ...] = (100, 300, 500, 750, 1000, 1500, 2500)
MAX_WIDTH_DIGITS = 6


def parse_width(raw: str) -> int:
    """Parse the ``width`` query value; anything but a positive whole number is InvalidWidth."""
    raw = raw.strip()
    if not raw.isdigit() or not raw.isascii() or len(raw) > MAX_WIDTH_DIGITS:
        raise InvalidWidth(f"width must be a positive whole number, got {raw[:20]!r}.")
    width = int(raw)
    if width <= 0:
        raise InvalidWidth("width must be greater than zero.")
    return width


def snap_width(requested: int, allowed: Sequence[int]) -> int:
    """The first allowed width >= the request, or the largest allowed one (282 -> 300)."""
    if not allowed:
        raise ValueError("no allowed widths")
    ordered = sorted(allowed)
    for width in ordered:
        if width >= requested:
            return width
    return ordered[-1]


def target_size(source: tuple[int, int], width: int) -> tuple[int, int]:
    """The size of a variant ``width`` wide, keeping the aspect ratio and never upscaling."""
    src_w, src_h = source
    if src_w <= 0 or src_h <= 0:
        raise ValueError("empty image")
    if width >= src_w:
        return src_w, src_h
    height = max(1, round(src_h * width / src_w))
    return width, height
