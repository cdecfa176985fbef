"""The download service's width and format rules, applied before a URL is built (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from fileservice.errors import InvalidFormat, InvalidWidth

# The service's default IMAGE_WIDTHS; a deployment that changes them is given to the client as
# ``widths=`` (or FILESERVICE_WIDTHS), since getSettings does not publish them.
DEFAULT_WIDTHS: tuple[int, ...] = (100, 300, 500, 750, 1000, 1500, 2500)
FORMATS = frozenset({"jpeg", "jpg", "png", "webp", "avif"})
MAX_WIDTH_DIGITS = 6


def check_width(width: int) -> int:
    if isinstance(width, bool) or not isinstance(width, int) or width <= 0 or len(str(width)) > MAX_WIDTH_DIGITS:
        raise InvalidWidth(f"width must be a positive whole number, got {width!r}.", status=400)
    return width


def snap_width(requested: int, allowed: Sequence[int] = DEFAULT_WIDTHS) -> int:
    """The width the service serves for a request: the first allowed width >= it, else the largest
    (282 -> 300, 3000 -> 2500, 50 -> 100)."""
    check_width(requested)
    ordered = sorted(allowed)
    if not ordered:
        raise ValueError("no allowed widths")
    return next((w for w in ordered if w >= requested), ordered[-1])


def check_format(fmt: str) -> str:
    value = fmt.strip().lower()
    if value not in FORMATS:
        raise InvalidFormat(f"format must be one of {', '.join(sorted(FORMATS))}, got {fmt!r}.", status=400)
    return value


def parse_widths(raw: str) -> tuple[int, ...]:
    """``"100,300,500"`` -> ``(100, 300, 500)`` (FILESERVICE_WIDTHS)."""
    widths = tuple(sorted({check_width(int(part)) for part in raw.split(",") if part.strip()}))
    if not widths:
        raise ValueError("no widths given")
    return widths
