"""The resize kernel: bytes of an original in, bytes of a variant out. Pure, no I/O.

The steps, in order (each one a small function below or a module of its own):

1. ``_open``      identify the format from the header only (JPEG, PNG, WebP, AVIF; nothing else is decoded)
2. ``_check``     refuse too many pixels before a single pixel is decoded; a PNG must be whole
                  (``png_chunks``: every chunk complete with its CRC, up to IEND)
3. ``_decode``    decode exactly once, never leniently; a JPEG's EXIF orientation (in its header)
                  gives the target first, for draft mode (DCT scaling to >= the target)
4. ``modes.normalize`` bring odd modes (P/PA, I;16, CMYK, 1) to L/LA/RGB/RGBA, a transparent
                  colour (tRNS) becoming an alpha channel
5. ``_shrink``    LANCZOS with ``reducing_gap`` (never upscales), then apply the orientation
6. ``icc.settle`` keep a small ICC profile that describes the pixels, else convert to sRGB or drop it
7. ``_fit_output`` flatten alpha onto white for JPEG; gray to RGB for WebP and AVIF
8. ``_encode``    JPEG/PNG/WebP/AVIF without metadata, except the profile ``icc.settle`` kept

The orientation is applied as ``ImageOps.exif_transpose`` would, but by hand, after the shrink
(fewer pixels to turn). Failures on the untrusted bytes (steps 1-3) are ``TooManyPixels`` or
``NotAnImage``; ``InvalidFormat`` for an unknown ``fmt``. A source is resized only when all of it
decodes: no ``except`` after step 3 can meet a decoder's error, because nothing decodes after it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError

from services.resize import icc, modes
from services.resize.png_chunks import PngHeader, check_whole
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
# Output formats that store gray pixels as gray (WebP and AVIF take RGB only).
_GRAY_FORMATS = frozenset({"jpeg", "png"})
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
    RuntimeError,  # libavif's "Failed to decode frame"
)


class UnsafeDecode(Exception):
    """Decoding could pass a broken original as whole: a bug of ours, never NOT_AN_IMAGE (see ``_load_once``)."""


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
    profile = icc.parse(src.image.info.get("icc_profile"))
    work = modes.normalize(src.image, profile=profile, png=src.png)
    if src.image.mode == "CMYK":
        profile = None  # the pixels went to sRGB through it (or by formula): it describes them no more
    work = _shrink(work, src.target, src.box, src.orientation)
    work, keep_icc = icc.settle(work, profile, gray_kept=out_fmt in _GRAY_FORMATS)
    work = _fit_output(work, out_fmt)
    encoded = _encode(work, out_fmt, quality=quality, icc=keep_icc)
    return Resized(encoded, FORMATS[out_fmt], work.size)


Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class _Decoded:
    image: Image.Image
    orientation: int  # EXIF orientation, 1 when upright
    target: tuple[int, int]  # the variant's size in stored (pre-orientation) coordinates
    box: Box | None  # the source region of a DCT-scaled JPEG, for resize(box=...)
    png: PngHeader | None  # a PNG's header (its bit depth), None for other formats


def _read(data: bytes, width: int, max_pixels: int) -> _Decoded:
    """Steps 1-3: the decoded image, its EXIF orientation and the target in stored coordinates.

    Only here do untrusted bytes meet a decoder, so only here are decoder failures NotAnImage;
    anything failing later is a bug of ours and surfaces as such.
    """
    try:
        im = _open(data)
        _check(im, max_pixels)
        png = check_whole(data) if im.format == "PNG" else None
        orientation, target, box = _decode(im, width)
    except Image.DecompressionBombError as exc:
        raise TooManyPixels(f"The image is too large to process: {exc}") from exc
    except MemoryError as exc:
        raise TooManyPixels("The image needs more memory than the service has.") from exc
    except _DECODE_ERRORS as exc:
        raise NotAnImage(f"The image cannot be decoded ({type(exc).__name__}).") from exc
    return _Decoded(im, orientation, target, box, png)


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


def _decode(im: Image.Image, width: int) -> tuple[int, tuple[int, int], Box | None]:
    """Decode the pixels, exactly once; returns the orientation, the target and the source box.

    A JPEG's EXIF is in its header (APP1), so its orientation, the target and with them the DCT
    scale (1/2, 1/4, 1/8, to >= DRAFT_GAP x the target) are known before decoding; the box is the
    source region of the scaled image (what ``Image.thumbnail`` passes to ``resize``). Any other
    format is decoded first: a PNG may keep its EXIF after the pixels (eXIf), and asking for it
    would decode the image inside ``_orientation``'s guard, which is there for broken EXIF blocks.
    """
    if im.format not in ("JPEG", "MPO"):
        _load_once(im)
        orientation = _orientation(im)
        return orientation, _stored_target(im.size, width, orientation), None
    orientation = _orientation(im)
    target = _stored_target(im.size, width, orientation)
    box: Box | None = None
    if target != im.size:
        draft = im.draft(None, (int(target[0] * DRAFT_GAP), int(target[1] * DRAFT_GAP)))
        if draft is not None:
            box = draft[1]
    _load_once(im)
    return orientation, target, box


def _load_once(im: Image.Image) -> None:
    """``load()`` that can fail only the first time, and never leniently.

    Pillow raises a decoder's error once: after it the pixels decoded so far count as loaded, and
    a second ``load()`` returns them without a word. So nothing may have loaded the image before,
    and truncated images are never completed with gray (``LOAD_TRUNCATED_IMAGES``).
    """
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise UnsafeDecode("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on: truncated originals would pass as images")
    if getattr(im, "_im", None) is not None:  # Pillow's pixel memory: set up by the first load()
        raise UnsafeDecode("the original was decoded before _load_once: a decoder error may have been lost")
    im.load()


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
