"""Every variant of every container the service knows is recognised under its declared types.

Table-driven: for each declared type with a signature of its own (``sniff.ALIASES``), valid files
in each variant of the container (made by Pillow, or by hand where Pillow writes only one
variant); for declared ``image/*`` types without one, a file of each other raster format.
"""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
from typing import Any

import pytest
from PIL import Image

from shared.content_check.signatures import CAMERA_RAW, OTHER_RASTER_IMAGES
from shared.content_check.sniff import ALIASES, check, detect

RED = Image.new("RGB", (16, 12), (200, 30, 30))


def saved(fmt: str, image: Image.Image = RED, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def segment(marker: int, body: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(body) + 2) + body


def without_app0(jpeg: bytes) -> bytes:
    """The JPEG's segments after its JFIF APP0 (Pillow always writes one first)."""
    assert jpeg[2:4] == b"\xff\xe0"
    return jpeg[4 + struct.unpack(">H", jpeg[4:6])[0] :]


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\x00\x00\x00\x08free"


def archive(name: str, *, stored: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr(name, "<x/>")
    return buffer.getvalue()


JPEG = saved("JPEG")
SVG_BODY = '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>'

VARIANTS: dict[str, list[tuple[str, bytes]]] = {
    "image/jpeg": [
        ("jfif", JPEG),
        (
            "exif-first",
            b"\xff\xd8" + segment(0xE1, b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00") + without_app0(JPEG),
        ),
        ("tables-first", b"\xff\xd8" + without_app0(JPEG)),
        ("comment-first", b"\xff\xd8" + segment(0xFE, b"made by hand") + without_app0(JPEG)),
        ("icc-first", b"\xff\xd8" + segment(0xE2, b"ICC_PROFILE\x00\x01\x01") + without_app0(JPEG)),
        ("adobe-cmyk", saved("JPEG", RED.convert("CMYK"))),
        ("gray", saved("JPEG", RED.convert("L"))),
        ("progressive", saved("JPEG", progressive=True)),
        ("mpo", saved("MPO", save_all=True, append_images=[RED])),
    ],
    "image/png": [
        ("rgb", saved("PNG")),
        ("16-bit", saved("PNG", Image.new("I;16", (4, 4), 300))),
        ("apng", saved("PNG", save_all=True, append_images=[RED.rotate(90)])),
        ("palette", saved("PNG", RED.convert("P"))),
    ],
    "image/gif": [("gif89a", saved("GIF", transparency=0)), ("gif87a", b"GIF87a" + saved("GIF")[6:])],
    "image/webp": [
        ("lossy-vp8", saved("WEBP", quality=80)),
        ("lossless-vp8l", saved("WEBP", lossless=True)),
        ("extended-alpha-vp8x", saved("WEBP", RED.convert("RGBA"))),
        ("extended-animated", saved("WEBP", save_all=True, append_images=[RED.rotate(90)])),
        ("extended-icc", saved("WEBP", icc_profile=b"\x00" * 200)),
    ],
    "image/avif": [
        ("pillow-major-avif", saved("AVIF")),
        ("major-mif1-compatible-avif", ftyp(b"mif1", b"mif1", b"avif", b"miaf", b"MA1B")),
        ("sequence-avis", ftyp(b"avis", b"avis", b"msf1", b"miaf")),
        ("major-msf1-compatible-avis", ftyp(b"msf1", b"msf1", b"avis")),
        ("64-bit-box-size", b"\x00\x00\x00\x01ftyp" + struct.pack(">Q", 28) + b"avif\x00\x00\x00\x00avifmif1"),
    ],
    "image/heic": [
        ("heic", ftyp(b"heic", b"mif1", b"heic")),
        ("heix", ftyp(b"heix", b"mif1", b"heix")),
        ("major-mif1-compatible-heic", ftyp(b"mif1", b"mif1", b"heic", b"miaf")),
        ("sequence-hevc", ftyp(b"hevc", b"msf1", b"hevc")),
        ("sequence-msf1", ftyp(b"msf1", b"msf1", b"hevs")),
    ],
    "image/heif": [("plain-heif-mif1", ftyp(b"mif1", b"mif1", b"miaf")), ("mif2", ftyp(b"mif2", b"mif2"))],
    "image/bmp": [
        ("rgb", saved("BMP")),
        ("1-bit", saved("BMP", RED.convert("1"))),
        ("palette", saved("BMP", RED.convert("P"))),
        (
            "os2-core-header",
            b"BM" + struct.pack("<IHHI", 26 + 6 * 4 * 3, 0, 0, 26) + struct.pack("<IHHHH", 12, 4, 4, 1, 24),
        ),
    ],
    "image/tiff": [
        ("little-endian", saved("TIFF")),
        ("little-endian-compressed", saved("TIFF", compression="tiff_lzw")),
        ("big-endian", b"MM\x00*\x00\x00\x00\x08" + b"\x00\x00"),
        ("bigtiff-little-endian", b"II+\x00\x08\x00\x00\x00" + struct.pack("<Q", 16) + b"\x00" * 8),
        ("bigtiff-big-endian", b"MM\x00+\x00\x08\x00\x00" + struct.pack(">Q", 16) + b"\x00" * 8),
    ],
    "image/x-icon": [
        ("icon", saved("ICO")),
        ("icon-with-png", saved("ICO", Image.new("RGBA", (256, 256)), sizes=[(256, 256)])),
        ("cursor", b"\x00\x00\x02\x00\x01\x00" + saved("ICO")[6:]),
    ],
    "image/svg+xml": [
        ("plain", SVG_BODY.encode()),
        ("xml-declaration", b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n' + SVG_BODY.encode()),
        ("utf8-bom", b"\xef\xbb\xbf" + b"<?xml version='1.0'?>" + SVG_BODY.encode()),
        ("utf16-le-bom", b"\xff\xfe" + ('<?xml version="1.0" encoding="UTF-16"?>' + SVG_BODY).encode("utf-16-le")),
        ("utf16-be-bom", b"\xfe\xff" + ('<?xml version="1.0" encoding="UTF-16"?>' + SVG_BODY).encode("utf-16-be")),
        ("utf16-le-no-bom", ('<?xml version="1.0" encoding="UTF-16"?>' + SVG_BODY).encode("utf-16-le")),
        ("comments", b"<!-- Generator: Adobe Illustrator 27.0 -->\n<!-- second -->" + SVG_BODY.encode()),
        (
            "doctype-internal-subset",
            b'<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
            b'"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd" [\n<!ENTITY ns_svg "http://www.w3.org/2000/svg">\n'
            b'<!ENTITY ns_xlink "http://www.w3.org/1999/xlink">\n]>\n' + SVG_BODY.encode(),
        ),
        (
            "stylesheet-instruction",
            b'<?xml version="1.0"?><?xml-stylesheet href="a.css" type="text/css"?>' + SVG_BODY.encode(),
        ),
        ("namespace-prefix", b'<svg:svg xmlns:svg="http://www.w3.org/2000/svg"><svg:rect/></svg:svg>'),
        ("empty-root", b"<svg/>"),
        ("leading-blank-lines", b"\n\r\n  \t" + SVG_BODY.encode()),
    ],
    "application/pdf": [
        ("pdf-1.7", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"),
        ("pdf-2.0", b"%PDF-2.0\n1 0 obj\n<<>>\nendobj\n"),
        ("leading-junk", b"\x00" * 600 + b"%PDF-1.4\n"),
        ("pillow", saved("PDF")),
    ],
    "application/zip": [
        ("deflated", archive("a.txt")),
        ("stored", archive("a.txt", stored=True)),
        ("empty", b"PK\x05\x06" + b"\x00" * 18),
        ("spanned", b"PK\x07\x08" + archive("a.txt")),
    ],
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": [("docx", archive("word/document.xml"))],
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": [("xlsx", archive("xl/workbook.xml"))],
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": [("pptx", archive("ppt/p.xml"))],
    "application/vnd.oasis.opendocument.text": [("odt", archive("mimetype", stored=True))],
    "application/vnd.oasis.opendocument.spreadsheet": [("ods", archive("mimetype", stored=True))],
    "application/epub+zip": [("epub", archive("mimetype", stored=True))],
    "application/java-archive": [("jar", archive("META-INF/MANIFEST.MF"))],
    "application/gzip": [("gzip", gzip.compress(b"hello")), ("gzip-no-name", gzip.compress(b"", mtime=0))],
}
# Declared types that share a container with another's variants.
SAME_AS = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/apng": "image/png",
    "image/x-ms-bmp": "image/bmp",
    "image/vnd.microsoft.icon": "image/x-icon",
    "application/x-zip-compressed": "application/zip",
    "application/x-gzip": "application/gzip",
}


def _variants(declared: str) -> list[tuple[str, bytes]]:
    return VARIANTS[SAME_AS.get(declared, declared)]


CASES = [(declared, name, data) for declared in ALIASES for name, data in _variants(declared)]


def test_every_declared_type_with_a_signature_has_variants_here() -> None:
    assert set(ALIASES) <= set(VARIANTS) | set(SAME_AS)


@pytest.mark.parametrize(("declared", "name", "data"), CASES, ids=[f"{d}-{n}" for d, n, _ in CASES])
def test_every_variant_of_a_container_is_kept_under_its_declared_type(declared: str, name: str, data: bytes) -> None:
    assert check(declared, data) is None, (name, detect(data))
    assert detect(data) == ALIASES[declared]


OTHER_RASTERS: list[tuple[str, str, bytes]] = [
    ("image/jp2", "image/jp2", saved("JPEG2000")),
    ("image/jp2", "image/jp2", saved("JPEG2000", no_jp2=True)),  # a bare codestream (.j2k)
    ("image/jxl", "image/jxl", b"\xff\x0a\xfa\x7f\x01\x90\x08"),
    ("image/jxl", "image/jxl", b"\x00\x00\x00\x0cJXL \r\n\x87\n\x00\x00\x00\x14ftypjxl "),
    ("image/vnd.ms-photo", "image/jxr", b"II\xbc\x01\x08\x00\x00\x00"),
    ("image/vnd.adobe.photoshop", "image/vnd.adobe.photoshop", b"8BPS\x00\x01" + b"\x00" * 20),
    ("image/vnd.adobe.photoshop", "image/vnd.adobe.photoshop", b"8BPS\x00\x02" + b"\x00" * 20),
    ("image/icns", "image/icns", saved("ICNS", Image.new("RGBA", (16, 16)))),
    ("image/vnd.ms-dds", "image/vnd.ms-dds", saved("DDS", RED.convert("RGBA"))),
    ("image/x-exr", "image/x-exr", b"v/1\x01\x02\x00\x00\x00"),
    ("image/vnd.radiance", "image/vnd.radiance", b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n"),
    ("image/vnd.radiance", "image/vnd.radiance", b"#?RGBE\n"),
    ("image/qoi", "image/qoi", saved("QOI")),
    ("image/x-portable-pixmap", "image/x-portable-anymap", saved("PPM")),
    ("image/x-portable-bitmap", "image/x-portable-anymap", b"P1\n2 2\n0 1\n1 0\n"),
    ("image/x-portable-arbitrarymap", "image/x-portable-anymap", b"P7\nWIDTH 1\n"),
    ("image/x-xcf", "image/x-xcf", b"gimp xcf v011\x00"),
    ("image/vnd.djvu", "image/vnd.djvu", b"AT&TFORM\x00\x00\x00\x10DJVU"),
    ("image/wmf", "image/wmf", b"\xd7\xcd\xc6\x9a\x00\x00"),
    ("image/wmf", "image/wmf", b"\x01\x00\x09\x00\x00\x03\x10\x00"),
    ("image/emf", "image/emf", b"\x01\x00\x00\x00" + b"\x00" * 36 + b" EMF\x00\x00\x01\x00"),
    ("image/ktx", "image/ktx", b"\xabKTX 11\xbb\r\n\x1a\n"),
    ("image/ktx2", "image/ktx2", b"\xabKTX 20\xbb\r\n\x1a\n"),
    ("image/fits", "image/fits", b"SIMPLE  =                    T"),
    ("image/x-sgi", "image/x-sgi", saved("SGI")),
    ("image/x-cmu-raster", "image/x-sun-raster", b"\x59\xa6\x6a\x95" + b"\x00" * 28),
    ("image/bpg", "image/bpg", b"BPG\xfb\x00"),
    ("image/flif", "image/flif", b"FLIF41\x00"),
    ("image/x-xpixmap", "image/x-xpixmap", b'/* XPM */\nstatic char *x[] = {"1 1 1 1", ". c #000", "."};'),
    ("image/x-xbitmap", "image/x-xbitmap", saved("XBM", RED.convert("1"))),
    ("image/x-fuji-raf", CAMERA_RAW, b"FUJIFILMCCD-RAW 0201FF383501"),
    ("image/x-olympus-orf", CAMERA_RAW, b"IIRO\x08\x00\x00\x00"),
    ("image/x-panasonic-rw2", CAMERA_RAW, b"IIU\x00\x08\x00\x00\x00"),
    ("image/x-canon-cr3", CAMERA_RAW, ftyp(b"crx ", b"crx ", b"isom")),
    ("image/x-adobe-dng", "image/tiff", saved("TIFF")),
    ("image/x-canon-cr2", "image/tiff", b"II*\x00\x10\x00\x00\x00CR\x02\x00"),
]


@pytest.mark.parametrize(
    ("declared", "found", "data"), OTHER_RASTERS, ids=[f"{d}-{i}" for i, (d, _, _) in enumerate(OTHER_RASTERS)]
)
def test_other_raster_formats_are_images_under_their_own_types(declared: str, found: str, data: bytes) -> None:
    assert detect(data) == found
    assert check(declared, data) is None


def test_every_other_raster_format_is_tried() -> None:
    assert {found for _, found, _ in OTHER_RASTERS} >= OTHER_RASTER_IMAGES


@pytest.mark.parametrize(
    ("declared", "data"),
    [
        ("image/heic", VARIANTS["image/avif"][1][1]),  # an AVIF is not a HEIC
        ("image/avif", VARIANTS["image/heic"][2][1]),  # nor the other way round
        ("image/avif", ftyp(b"isom", b"isom", b"mp42")),  # an MP4 video
        ("image/tiff", b"II*\x01rest"),
        ("image/svg+xml", b'<?xml version="1.0"?><!-- <svg> in a comment --><html><body>hi</body></html>'),
        ("image/svg+xml", b"\xff\xfe" + "<html><script>x()</script></html>".encode("utf-16-le")),
        ("text/plain", b"\xfe\xff" + "<html><script>x()</script></html>".encode("utf-16-be")),
        ("image/x-portable-pixmap", b"P9 not netpbm"),
        ("image/jxl", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
    ],
    ids=[
        "avif-as-heic",
        "heic-as-avif",
        "mp4-as-avif",
        "not-tiff",
        "html-after-svg-comment",
        "utf16-html-as-svg",
        "utf16-html-as-text",
        "not-netpbm",
        "svg-as-jxl",
    ],
)
def test_lookalikes_are_still_rejected(declared: str, data: bytes) -> None:
    assert check(declared, data) is not None
