"""A decoded original brought to L, LA, RGB or RGBA, keeping its transparency. Pure.

- P/PA (palette): RGBA when the palette has transparency, else RGB.
- CMYK: sRGB through its ICC profile when it has a CMYK one that lcms converts from, else
  Pillow's plain formula.
- 16-bit (and 32-bit integer) gray: scaled to 8 bits, not clipped at 255.
- 1-bit: L.
- anything else (YCbCr, LAB, HSV, RGBX ...): RGB.

A **transparent colour** (PNG's tRNS chunk on a gray or truecolour image, ``info["transparency"]``)
becomes an alpha channel. Pillow keeps that colour as the file states it, at the file's bit depth,
while the pixels it decodes are at 8 bits (1-bit as 0/255, 2- and 4-bit scaled by 85 and 17,
16-bit truecolour cut to its high bytes), and its own conversion compares the two as they are: a
2-bit gray's white (3) or a 16-bit colour never matches, so the picture came out opaque. Here
the colour is compared as the file means it:

- 1-bit and 8-bit gray, 8-bit truecolour: as it is;
- 2- and 4-bit gray: scaled like the pixels;
- 16-bit gray (I;16): at 16 bits, exactly, before the gray is scaled to 8 bits;
- 16-bit truecolour: on the high bytes Pillow keeps (Pillow decodes no 16-bit RGB), so colours
  within 1/256 of the transparent one turn transparent too.
"""

from __future__ import annotations

from PIL import Image, ImageMath

from services.resize.icc import CMS_ERRORS, Profile, to_srgb
from services.resize.png_chunks import PngHeader

_TRANSPARENT_COLOUR_MODES = frozenset({"1", "L", "I", "I;16", "RGB"})


def normalize(im: Image.Image, *, profile: Profile | None, png: PngHeader | None) -> Image.Image:
    """The image in L, LA, RGB or RGBA (a new image, or ``im`` itself when it already is)."""
    mode = im.mode
    if mode in _TRANSPARENT_COLOUR_MODES and _transparent_colour(im) is not None:
        return _transparent_colour_to_alpha(im, png)
    if mode in ("L", "LA", "RGB", "RGBA"):
        return im
    if mode == "CMYK":
        return _cmyk_to_rgb(im, profile)
    if mode.startswith("I") or mode == "F":
        return _gray_to_8bit(im)
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in im.info
        return im.convert("RGBA" if has_alpha else "RGB")
    if mode == "1":
        return im.convert("L")
    return im.convert("RGB")


def _transparent_colour(im: Image.Image) -> int | tuple[int, ...] | None:
    value = im.info.get("transparency")
    if isinstance(value, int) or (isinstance(value, tuple) and all(isinstance(v, int) for v in value)):
        return value
    return None


def _transparent_colour_to_alpha(im: Image.Image, png: PngHeader | None) -> Image.Image:
    value = _transparent_colour(im)
    depth = png.bit_depth if png is not None else 8
    if im.mode in ("I", "I;16"):
        assert isinstance(value, int)
        return _wide_gray_with_alpha(im, value)
    if isinstance(value, int) and im.mode == "L" and depth < 8:
        value *= 255 // ((1 << depth) - 1)
    elif isinstance(value, tuple) and depth == 16:
        value = tuple(v >> 8 for v in value)
    im.info["transparency"] = value
    return im.convert("RGBA" if im.mode == "RGB" else "LA")


def _wide_gray_with_alpha(im: Image.Image, value: int) -> Image.Image:
    """16-bit (or 32-bit) gray with a transparent gray value: LA, the value compared exactly."""
    wide = im if im.mode == "I" else im.convert("I")
    alpha = ImageMath.lambda_eval(lambda a: a["convert"]((a["gray"] != value) * 255, "L"), gray=wide)
    assert isinstance(alpha, Image.Image)
    result = _gray_to_8bit(wide).convert("LA")
    result.putalpha(alpha)
    return result


def _cmyk_to_rgb(im: Image.Image, profile: Profile | None) -> Image.Image:
    if profile is not None and profile.colour_space == "CMYK":
        try:
            return to_srgb(im, profile)
        except CMS_ERRORS:
            pass  # lcms cannot convert from it: the plain formula below
    return im.convert("RGB")


def _gray_to_8bit(im: Image.Image) -> Image.Image:
    """16-bit (and 32-bit integer) gray to 8 bits by scaling, not by clipping at 255."""
    if im.mode == "F":
        return im.convert("L")
    wide = im if im.mode == "I" else im.convert("I")
    return wide.point(lambda v: v * (1 / 256)).convert("L")
