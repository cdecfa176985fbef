"""What a binary file is, from its first bytes: every variant of the containers the service knows. Pure.

The types a declared type is held to (``sniff.ALIASES``), each in every variant of its container:

- JPEG: SOI and a marker, whatever comes first (JFIF, Exif, Adobe, ICC, a comment, tables): FF D8 FF.
- PNG and APNG: the PNG signature. GIF: GIF87a and GIF89a.
- WebP: a RIFF ``WEBP`` form, whatever its first chunk (VP8 lossy, VP8L lossless, VP8X extended:
  alpha, animation, metadata).
- AVIF and HEIC/HEIF (ISO BMFF): the ``ftyp`` box's major *and* compatible brands. Many encoders
  write major brand ``mif1`` with ``avif`` among the compatible ones; ``avif``/``avis`` anywhere
  is AVIF, a HEVC brand (heic, heix, hevc, hevx, heim, heis, hevm, hevs) is HEIC, and the bare
  HEIF brands (mif1, msf1, mif2) count as HEIC (image/heif); Canon's CR3 (``crx``) is a raw
  image; any other brand (isom, mp41, mp42, qt, 3gp, M4A ...) is MP4.
- TIFF: little- and big-endian (``II*\\0``, ``MM\\0*``) and BigTIFF (``II+\\0``, ``MM\\0+``).
- BMP: ``BM`` and a file header. ICO and CUR (Windows cursors, often served as image/x-icon): an
  ICONDIR of type 1 or 2.
- PDF: ``%PDF-`` within the first 1,024 bytes (where readers look for it).
- ZIP (office, OpenDocument, EPUB, JAR): local header, empty archive or spanned marker. gzip.

Other raster images, which a declared ``image/*`` type without a signature of its own may be
(``OTHER_RASTER_IMAGES``): JPEG 2000 (JP2 box and codestream), JPEG XL (codestream and container),
JPEG XR, Photoshop (PSD, PSB), ICNS, DDS, OpenEXR, Radiance HDR, QOI, Netpbm (PBM ... PAM), GIMP
XCF, DjVu, WMF, EMF, KTX 1 and 2, FITS, SGI, Sun raster, BPG, FLIF, XPM, XBM and camera raws
outside TIFF (Fuji RAF, Olympus ORF, Panasonic RW2, Canon CR3; DNG, CR2, NEF, ARW and PEF are
TIFF). Formats without a signature (TGA, PCX) cannot be told from other bytes.
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
PDF = "application/pdf"
ZIP = "application/zip"
GZIP = "application/gzip"
MP4 = "video/mp4"
CAMERA_RAW = "image/x-camera-raw"

_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEVC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"})
_HEIF_BRANDS = frozenset({b"mif1", b"msf1", b"mif2"})

# (detected type, any of these prefixes): the signatures that are a plain prefix.
_KNOWN_PREFIXES: tuple[tuple[str, tuple[bytes, ...]], ...] = (
    (JPEG, (b"\xff\xd8\xff",)),
    (PNG, (b"\x89PNG\r\n\x1a\n",)),
    (GIF, (b"GIF87a", b"GIF89a")),
    (TIFF, (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")),
    (ICO, (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00")),
    (ZIP, (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")),
    (GZIP, (b"\x1f\x8b",)),
)
_OTHER_RASTER_PREFIXES: tuple[tuple[str, tuple[bytes, ...]], ...] = (
    ("image/jp2", (b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")),
    ("image/jxl", (b"\x00\x00\x00\x0cJXL \r\n\x87\n", b"\xff\x0a")),
    ("image/jxr", (b"II\xbc\x01", b"II\xbc\x00")),
    ("image/vnd.adobe.photoshop", (b"8BPS\x00\x01", b"8BPS\x00\x02")),
    ("image/icns", (b"icns",)),
    ("image/vnd.ms-dds", (b"DDS ",)),
    ("image/x-exr", (b"v/1\x01",)),
    ("image/vnd.radiance", (b"#?RADIANCE", b"#?RGBE")),
    ("image/qoi", (b"qoif",)),
    ("image/x-xcf", (b"gimp xcf ",)),
    ("image/vnd.djvu", (b"AT&TFORM",)),
    ("image/wmf", (b"\xd7\xcd\xc6\x9a", b"\x01\x00\x09\x00\x00\x01", b"\x01\x00\x09\x00\x00\x03")),
    ("image/wmf", (b"\x02\x00\x09\x00\x00\x01", b"\x02\x00\x09\x00\x00\x03")),
    ("image/ktx", (b"\xabKTX 11\xbb\r\n\x1a\n",)),
    ("image/ktx2", (b"\xabKTX 20\xbb\r\n\x1a\n",)),
    ("image/fits", (b"SIMPLE  =",)),
    ("image/x-sun-raster", (b"\x59\xa6\x6a\x95",)),
    ("image/bpg", (b"BPG\xfb",)),
    ("image/flif", (b"FLIF",)),
    ("image/x-xpixmap", (b"/* XPM */",)),
    (CAMERA_RAW, (b"FUJIFILMCCD-RAW", b"IIRO", b"IIRS", b"MMOR", b"IIU\x00")),
)
_NETPBM = re.compile(rb"P[1-7][ \t\r\n]")
_XBM = re.compile(rb"#define[ \t]+\S*width[ \t]+\d+")
_SGI = re.compile(rb"\x01\xda[\x00\x01][\x01\x02]")

OTHER_RASTER_IMAGES = frozenset(
    {kind for kind, _ in _OTHER_RASTER_PREFIXES}
    | {"image/x-portable-anymap", "image/x-xbitmap", "image/x-sgi", "image/emf", CAMERA_RAW}
)


def detect_binary(head: bytes) -> str | None:
    """The type of a binary format the first bytes show, or None."""
    for kind, prefixes in _KNOWN_PREFIXES + _OTHER_RASTER_PREFIXES:
        if head.startswith(prefixes):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp":
        return _iso_bmff(head)
    if head.startswith(b"BM") and len(head) >= 14:
        return BMP
    if b"%PDF-" in head[:1024]:
        return PDF
    if head.startswith(b"\x01\x00\x00\x00") and head[40:44] == b" EMF":
        return "image/emf"
    if _NETPBM.match(head):
        return "image/x-portable-anymap"
    if _SGI.match(head):
        return "image/x-sgi"
    if _XBM.match(head):
        return "image/x-xbitmap"
    return None


def _iso_bmff(head: bytes) -> str:
    """AVIF, HEIC (HEIF), a camera raw or MP4 from the ``ftyp`` box's brands."""
    size = int.from_bytes(head[:4], "big")
    start = 8
    if size == 1:  # a 64-bit size follows the type
        size, start = int.from_bytes(head[8:16], "big"), 16
    end = min(len(head), size if size >= start + 8 else len(head))
    major = head[start : start + 4]
    compatible = {head[i : i + 4] for i in range(start + 8, end - 3, 4)}
    brands = {major} | compatible
    if major in _AVIF_BRANDS or (major not in _HEVC_BRANDS and brands & _AVIF_BRANDS):
        return AVIF
    if brands & (_HEVC_BRANDS | _HEIF_BRANDS):
        return HEIC
    if major == b"crx ":
        return CAMERA_RAW
    return MP4
