"""Transparency survives for every PNG kind that has it, in every output format that has alpha.

The matrix: gray at 1, 2, 4, 8 and 16 bits with a transparent gray (tRNS), truecolour at 8 and
16 bits with a transparent colour, palettes with one transparent entry or alpha per entry, gray
+ alpha and RGBA at 8 and 16 bits; each to PNG, WebP and AVIF. Every picture is opaque on its
left half and transparent on its right half.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from services.resize.kernel import make_variant
from tests.support.hostile_images import HEIGHT, TRANSPARENT_PNGS, WIDTH, Transparent

ALPHA_FORMATS = ("png", "webp", "avif")
# PNG and WebP store alpha losslessly; AVIF codes it like the colours (a little ringing at edges).
ALPHA_TOLERANCE = {"png": 0, "webp": 0, "avif": 8}


def alpha_at(image: Image.Image, xy: tuple[int, int]) -> int:
    value = image.convert("RGBA").getpixel(xy)
    assert isinstance(value, tuple)
    return value[3]


@pytest.mark.parametrize("fmt", ALPHA_FORMATS)
@pytest.mark.parametrize("source", TRANSPARENT_PNGS, ids=[t.name for t in TRANSPARENT_PNGS])
def test_transparent_pixels_stay_transparent(source: Transparent, fmt: str) -> None:
    tolerance = ALPHA_TOLERANCE[fmt]
    for width in (WIDTH, WIDTH // 2):  # at the original's size and shrunk
        result = make_variant(source.data, width, fmt, max_pixels=10**8, quality=82)
        image = Image.open(io.BytesIO(result.data))
        image.load()
        assert image.mode in ("LA", "RGBA", "PA") or "transparency" in image.info, image.mode
        w, h = image.size
        assert (w, h) == (width, HEIGHT * width // WIDTH)
        assert alpha_at(image, (w * 3 // 4, h // 2)) <= tolerance, "the transparent half came out opaque"
        assert alpha_at(image, (w - 1, 0)) <= tolerance
        assert alpha_at(image, (w // 4, h // 2)) >= 255 - tolerance, "the opaque half came out transparent"
        assert alpha_at(image, (0, h - 1)) >= 255 - tolerance


@pytest.mark.parametrize("source", TRANSPARENT_PNGS, ids=[t.name for t in TRANSPARENT_PNGS])
def test_to_jpeg_the_transparent_half_is_white(source: Transparent) -> None:
    result = make_variant(source.data, WIDTH // 2, "jpeg", max_pixels=10**8, quality=90)
    image = Image.open(io.BytesIO(result.data)).convert("RGB")
    value = image.getpixel((WIDTH * 3 // 8, HEIGHT // 4))
    assert isinstance(value, tuple) and min(value) > 240


def test_a_sixteen_bit_transparent_gray_is_matched_exactly() -> None:
    """0x12FF (opaque) and 0x1234 (the key) share their high byte; only the key turns transparent,
    and the opaque gray keeps its level (0x12FF / 257 = 18.9 of 255)."""
    source = next(t for t in TRANSPARENT_PNGS if t.name == "gray-16bit-key")
    image = Image.open(io.BytesIO(make_variant(source.data, WIDTH, "png", max_pixels=10**8, quality=82).data))
    assert image.mode == "LA"
    gray, alpha = image.getpixel((5, 5))  # type: ignore[misc]
    assert alpha == 255 and 17 <= gray <= 20
