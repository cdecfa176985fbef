"""The resize kernel: bytes of an original in, bytes of a variant out. Pure, no I/O.

The steps, in order (each one a small function below):

1. ``_open``      identify the format from the header only (JPEG, PNG, WebP, AVIF; nothing else is decoded)
2. ``_check``     refuse too many pixels before a single pixel is decoded
3. ``_orientation`` read the EXIF orientation; the target size is computed from the oriented size
4. ``_decode``    JPEG draft mode (DCT scaling to >= the target), then the real decode
5. ``_normalize`` bring odd modes (P/PA, I;16, CMYK, 1) to L/LA/RGB/RGBA
6. ``_shrink``    LANCZOS with ``reducing_gap`` (never upscales), then apply the orientation
7. ``_fit_output`` flatten alpha onto white for JPEG; gray to RGB for WebP and AVIF
8. ``_encode``    JPEG/PNG/WebP/AVIF without metadata, except a still valid ICC profile

The orientation is applied as ``ImageOps.exif_transpose`` would, but by hand: it is read from the
header before decoding (the target is computed from the upright size) and applied after the
shrink (fewer pixels to turn). Failures on the untrusted bytes (steps 1-4) are
``TooManyPixels`` or ``NotAnImage``; ``InvalidFormat`` for an unknown ``fmt``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import ExifTags, Image, ImageCms, UnidentifiedImageError

from shared.errors import InvalidFormat, NotAnImage, TooManyPixels
from shared.geometry import target_size
from shared.messages import FORMATS

# Only these decoders ever see untrusted bytes (the JPEG one also yields MPO, as from many cameras).
SOURCE_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "AVIF")
_FORMAT_OF_SOURCE = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "WEBP": "webp", "AVIF": "avif"}

# EXIF orientation -> the transpose that shows the image upright (as ImageOps.exif_transpose).
_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES = frozenset({5, 6, 7, 8})
# JPEG DCT scaling decodes straight to >= DRAFT_GAP x the target (1/2, 1/4 or 1/8 of the size);
# then LANCZOS with REDUCING_GAP (a cheap box reduce first when the image is still >= 2x the target).
# Measured (bench.kernel, 12 MP -> 750): a 1x draft costs 20 ms at 33.41 dB, a 2x draft 37 ms at
# 33.45 dB, pyvips 17 ms at 32.89 dB: the difference to a 2x draft is far below what the JPEG
# encoder itself loses, so the 1x draft is the default.
DRAFT_GAP = 1.0
AVIF_SPEED = 8
REDUCING_GAP = 2.0
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "F"})
_WHITE = (255, 255, 255)
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    EOFError,
    ZeroDivisionError,
)


@dataclass(frozen=True)
class Resized:
    data: bytes
    content_type: str
    size: tuple[int, int]


def make_variant(data: bytes, width: int, fmt: str | None, *, max_pixels: int, quality: int) -> Resized:
    if width <= 0:
        raise ValueError("width must be positive")
    if fmt is not None and fmt not in FORMATS:
        raise InvalidFormat(f"format must be one of {sorted(FORMATS)}.")
    src = _read(data, width, max_pixels)
    out_fmt = fmt or _FORMAT_OF_SOURCE[src.image.format or "JPEG"]
    icc = src.image.info.get("icc_profile") or None
    work = _normalize(src.image, icc)
    work = _shrink(work, src.target, src.box, src.orientation)
    work = _fit_output(work, out_fmt)
    keep_icc = icc if _same_family(src.image.mode, work.mode) else None
    encoded = _encode(work, out_fmt, quality=quality, icc=keep_icc)
    return Resized(encoded, FORMATS[out_fmt], work.size)


Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class _Decoded:
    image: Image.Image
    orientation: int  # EXIF orientation, 1 when upright
    target: tuple[int, int]  # the variant's size in stored (pre-orientation) coordinates
    box: Box | None  # the source region of a DCT-scaled JPEG, for resize(box=...)


def _read(data: bytes, width: int, max_pixels: int) -> _Decoded:
    """Steps 1-4: the decoded image, its EXIF orientation and the target in stored coordinates.

    Only here do untrusted bytes meet a decoder, so only here are decoder failures NotAnImage;
    anything failing later is a bug of ours and surfaces as such.
    """
    try:
        im = _open(data)
        _check(im, max_pixels)
        orientation = _orientation(im)
        target = _stored_target(im.size, width, orientation)
        box = _decode(im, target)
    except Image.DecompressionBombError as exc:
        raise TooManyPixels(f"The image is too large to process: {exc}") from exc
    except MemoryError as exc:
        raise TooManyPixels("The image needs more memory than the service has.") from exc
    except _DECODE_ERRORS as exc:
        raise NotAnImage(f"The image cannot be decoded ({type(exc).__name__}).") from exc
    return _Decoded(im, orientation, target, box)


def _open(data: bytes) -> Image.Image:
    """Identify the format; reads the header only (Image.open is lazy)."""
    try:
        return Image.open(io.BytesIO(data), formats=SOURCE_FORMATS)
    except UnidentifiedImageError as exc:
        raise NotAnImage("The file is not a JPEG, PNG, WebP or AVIF image.") from exc


def _check(im: Image.Image, max_pixels: int) -> None:
    w, h = im.size
    if w <= 0 or h <= 0:
        raise NotAnImage("The image has no pixels.")
    if w * h > max_pixels:
        raise TooManyPixels(f"The image has {w}x{h} pixels; at most {max_pixels} pixels are resized.")


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(ExifTags.Base.Orientation, 1)
    except _DECODE_ERRORS:  # a broken EXIF block is not a broken image
        return 1
    return value if isinstance(value, int) and value in _TRANSPOSE else 1


def _stored_target(stored: tuple[int, int], width: int, orientation: int) -> tuple[int, int]:
    """The target in stored (pre-orientation) coordinates, computed from the upright size."""
    if orientation in _SWAPS_AXES:
        w, h = target_size((stored[1], stored[0]), width)
        return h, w
    return target_size(stored, width)


def _decode(im: Image.Image, target: tuple[int, int]) -> Box | None:
    """Decode the pixels; a JPEG is DCT-scaled on the way (1/2, 1/4, 1/8) to >= DRAFT_GAP x the target.

    Returns the source box of the scaled image (what ``Image.thumbnail`` passes to ``resize``).
    """
    box: Box | None = None
    if im.format in ("JPEG", "MPO") and target != im.size:
        draft = im.draft(None, (int(target[0] * DRAFT_GAP), int(target[1] * DRAFT_GAP)))
        if draft is not None:
            box = draft[1]
    im.load()
    return box


def _normalize(im: Image.Image, icc: bytes | None) -> Image.Image:
    """Bring the decoded image to L, LA, RGB or RGBA, keeping transparency."""
    mode = im.mode
    if mode in ("L", "RGB") and im.info.get("transparency") is not None:
        return im.convert("LA" if mode == "L" else "RGBA")
    if mode in ("L", "LA", "RGB", "RGBA"):
        return im
    if mode == "CMYK":
        return _cmyk_to_rgb(im, icc)
    if mode.startswith("I") or mode == "F":
        return _to_8bit_gray(im)
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in im.info
        return im.convert("RGBA" if has_alpha else "RGB")
    if mode == "1":
        return im.convert("L")
    return im.convert("RGB")  # YCbCr, LAB, HSV, RGBX, ...


def _cmyk_to_rgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """CMYK to sRGB through the embedded profile when there is one (else Pillow's naive formula)."""
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(im, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # a broken or non-CMYK profile: the plain conversion below
    return im.convert("RGB")


def _to_8bit_gray(im: Image.Image) -> Image.Image:
    """16-bit (and 32-bit integer) gray to 8 bits by scaling, not by clipping at 255."""
    if im.mode == "F":
        return im.convert("L")
    wide = im if im.mode == "I" else im.convert("I")
    return wide.point(lambda v: v * (1 / 256)).convert("L")


def _shrink(im: Image.Image, target: tuple[int, int], box: Box | None, orientation: int) -> Image.Image:
    """LANCZOS down to the target (in stored coordinates), then turn the image upright."""
    if im.size != target:
        im = im.resize(target, Image.Resampling.LANCZOS, box=box, reducing_gap=REDUCING_GAP)
    transpose = _TRANSPOSE.get(orientation)
    if transpose is not None:
        im = im.transpose(transpose)
    return im


def _fit_output(im: Image.Image, out_fmt: str) -> Image.Image:
    """The modes each encoder takes: JPEG has no alpha (flattened onto white), WebP and AVIF no gray."""
    if out_fmt == "jpeg" and im.mode in ("LA", "RGBA"):
        background = Image.new(im.mode[:-1], im.size, 255 if im.mode == "LA" else _WHITE)
        background.paste(im, mask=im.getchannel("A"))
        return background
    if out_fmt in ("webp", "avif") and im.mode in ("L", "LA"):
        return im.convert("RGBA" if im.mode == "LA" else "RGB")
    return im


def _same_family(source_mode: str, out_mode: str) -> bool:
    """Whether an ICC profile of the source still describes the output's pixels."""
    if source_mode == "CMYK":
        return False  # converted to sRGB (or naively to RGB): the CMYK profile no longer applies
    source_gray = source_mode in _GRAY_MODES or source_mode.startswith("I")
    return source_gray == (out_mode in _GRAY_MODES)


def _encode(im: Image.Image, out_fmt: str, *, quality: int, icc: bytes | None) -> bytes:
    """Encode without any metadata of the source (EXIF, XMP, comments, text), except ``icc``."""
    im.info = {}
    buffer = io.BytesIO()
    extra: dict[str, object] = {"icc_profile": icc} if icc else {}
    if out_fmt == "jpeg":
        im.save(buffer, "JPEG", quality=quality, optimize=True, progressive=True, **extra)
    elif out_fmt == "png":
        im.save(buffer, "PNG", optimize=False, **extra)
    elif out_fmt == "webp":
        im.save(buffer, "WEBP", quality=quality, method=4, **extra)
    else:  # speed 8: 30 ms for 750 px here, against 100 ms at the default 6, for 20% more bytes
        im.save(buffer, "AVIF", quality=quality, speed=AVIF_SPEED, **extra)
    return buffer.getvalue()
