"""What a file really is, from its first bytes, and whether that matches the declared type. Pure.

The rules (``check``):

- A declared type this module knows the signature of (JPEG, PNG, GIF, WebP, AVIF, HEIC, BMP, TIFF,
  ICO, PDF, ZIP and the ZIP-based office formats, gzip, SVG) must have that signature: a PNG
  declared as image/jpeg, or an HTML page declared as image/png, is rejected.
- Any other declared ``image/*`` must at least be some image (a known raster signature).
- HTML is accepted only when declared as HTML (text/html, application/xhtml+xml): HTML under any
  other type (text/plain, application/json, an unknown type ...) is rejected, so that no page is
  ever stored under a type a client trusts more.
- Everything else (text, audio, video, unknown types) is accepted as declared.
"""

from __future__ import annotations

import re

JPEG = "image/jpeg"
PNG = "image/png"
GIF = "image/gif"
WEBP = "image/webp"
AVIF = "image/avif"
HEIC = "image/heic"
BMP = "image/bmp"
TIFF = "image/tiff"
ICO = "image/x-icon"
SVG = "image/svg+xml"
PDF = "application/pdf"
ZIP = "application/zip"
GZIP = "application/gzip"
HTML = "text/html"
XML = "application/xml"
MP4 = "video/mp4"

RASTER_IMAGES = frozenset({JPEG, PNG, GIF, WEBP, AVIF, HEIC, BMP, TIFF, ICO})

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

_ISO_BMFF_BRANDS = {b"avif": AVIF, b"avis": AVIF, b"heic": HEIC, b"heix": HEIC, b"mif1": HEIC, b"msf1": HEIC}
_HTML_START = re.compile(
    rb"<(!doctype\s+html|html|head|body|script|iframe|frameset|title|meta|style|a\s|div|table|p[\s>]|br|h1|img)",
    re.IGNORECASE,
)
_SVG_ROOT = re.compile(rb"<svg[\s>]", re.IGNORECASE)


def _text_start(head: bytes) -> bytes:
    """The head without a byte-order mark and leading whitespace (UTF-8 only; enough for markup)."""
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return head.lstrip(b" \t\r\n\f")


def detect(head: bytes) -> str | None:
    """The type the first bytes show, or None when they show none this module knows."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _ISO_BMFF_BRANDS:
            return _ISO_BMFF_BRANDS[brand]
        return MP4
    if head.startswith(b"BM") and len(head) >= 14:
        return BMP
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return TIFF
    if head.startswith(b"\x00\x00\x01\x00"):
        return ICO
    if b"%PDF-" in head[:1024]:
        return PDF
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return ZIP
    if head.startswith(b"\x1f\x8b"):
        return GZIP
    return _detect_markup(_text_start(head))


_PROLOG = re.compile(rb"^(<\?xml[^>]*\?>|<!--.*?-->|<!doctype[^>\[]*(\[.*?\])?\s*>|\s+)", re.IGNORECASE | re.DOTALL)


def _root(text: bytes) -> bytes:
    """The markup from its root element on (XML declaration, comments and doctype skipped)."""
    while True:
        match = _PROLOG.match(text)
        if match is None or not match.group(0):
            return text
        text = text[match.end() :]


def _detect_markup(text: bytes) -> str | None:
    if not text.startswith(b"<"):
        return None
    root = _root(text)
    if _SVG_ROOT.match(root):
        return SVG
    if _HTML_START.match(text) or _HTML_START.match(root) or re.search(rb"<(html|script|body)[\s>]", text.lower()):
        return HTML
    if text.startswith(b"<?xml"):
        return XML
    return None


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
