"""Whether what a file really is, from its first bytes, matches its declared type. Pure.

What the bytes are is ``signatures`` (binary containers, in every variant) and ``markup`` (SVG,
HTML, XML in any encoding browsers read).

The rules (``check``):

- A declared type this module knows the signature of (JPEG, PNG, GIF, WebP, AVIF, HEIC, BMP, TIFF,
  ICO, PDF, ZIP and the ZIP-based office formats, gzip, SVG) must have that signature: a PNG
  declared as image/jpeg, or an HTML page declared as image/png, is rejected.
- Any other declared ``image/*`` must at least be some image (a known raster signature, among
  them JPEG 2000, JPEG XL, PSD, camera raws ...: see ``signatures``).
- HTML is accepted only when declared as HTML (text/html, application/xhtml+xml): HTML under any
  other type (text/plain, application/json, an unknown type ...) is rejected, so that no page is
  ever stored under a type a client trusts more.
- Everything else (text, audio, video, unknown types) is accepted as declared.
"""

from __future__ import annotations

from shared.content_check.markup import HTML, SVG, detect_markup
from shared.content_check.signatures import (
    AVIF,
    BMP,
    GIF,
    GZIP,
    HEIC,
    ICO,
    JPEG,
    OTHER_RASTER_IMAGES,
    PDF,
    PNG,
    TIFF,
    WEBP,
    ZIP,
    detect_binary,
)

# The bytes a verdict is taken on: the catalog's ``SNIFF_BYTES`` default and what the resize worker
# checks, so both reach the same verdict (what a signature needs is at most the first 1,024 bytes;
# an ISO BMFF brand list or HTML markup may run further).
HEAD_BYTES = 4096

RASTER_IMAGES = frozenset({JPEG, PNG, GIF, WEBP, AVIF, HEIC, BMP, TIFF, ICO}) | OTHER_RASTER_IMAGES

# Declared types (lowercase, without parameters) -> the detected type they require.
ALIASES: dict[str, str] = {
    "image/jpg": JPEG,
    "image/pjpeg": JPEG,
    "image/jpeg": JPEG,
    "image/png": PNG,
    "image/apng": PNG,
    "image/gif": GIF,
    "image/webp": WEBP,
    "image/avif": AVIF,
    "image/heic": HEIC,
    "image/heif": HEIC,
    "image/bmp": BMP,
    "image/x-ms-bmp": BMP,
    "image/tiff": TIFF,
    "image/x-icon": ICO,
    "image/vnd.microsoft.icon": ICO,
    "image/svg+xml": SVG,
    "application/pdf": PDF,
    "application/zip": ZIP,
    "application/x-zip-compressed": ZIP,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ZIP,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ZIP,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ZIP,
    "application/vnd.oasis.opendocument.text": ZIP,
    "application/vnd.oasis.opendocument.spreadsheet": ZIP,
    "application/epub+zip": ZIP,
    "application/java-archive": ZIP,
    "application/gzip": GZIP,
    "application/x-gzip": GZIP,
}
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def detect(head: bytes) -> str | None:
    """The type the first bytes show, or None when they show none this module knows."""
    return detect_binary(head) or detect_markup(head)


def base_type(declared: str) -> str:
    """``Image/PNG; charset=x`` -> ``image/png``."""
    return declared.split(";", 1)[0].strip().lower()


def check(declared: str, head: bytes) -> str | None:
    """None when the content may be kept under the declared type, else a reason a client can read."""
    declared_base = base_type(declared)
    found = detect(head)
    required = ALIASES.get(declared_base)
    if required is not None:
        if found != required:
            return _mismatch(declared_base, found)
        return None
    if declared_base.startswith("image/"):
        if found not in RASTER_IMAGES:
            return _mismatch(declared_base, found)
        return None
    if found == HTML and declared_base not in HTML_TYPES:
        return _mismatch(declared_base, found)
    return None


def _mismatch(declared: str, found: str | None) -> str:
    what = found or "not recognised"
    return f"The file's content ({what}) does not match its declared type {declared}."
