"""The catalog's content check: real files made by Pillow and by hand, against declared types."""

from __future__ import annotations

import gzip
import io
import zipfile

import pytest
from PIL import Image

from shared.content_check.sniff import check, detect


def image_bytes(fmt: str, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (8, 8), "red" if mode == "RGB" else 1).save(buf, fmt)
    return buf.getvalue()


def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    return buf.getvalue()


JPEG = image_bytes("JPEG")
PNG = image_bytes("PNG")
GIF = image_bytes("GIF")
WEBP = image_bytes("WEBP")
AVIF = image_bytes("AVIF")
BMP = image_bytes("BMP")
TIFF = image_bytes("TIFF")
ICO = image_bytes("ICO")
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
SVG = b'<?xml version="1.0"?>\n<!-- logo -->\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x">\n<svg xmlns="http://www.w3.org/2000/svg"/>'
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
HTML_FRAGMENT = b"\xef\xbb\xbf  \n<div onclick='x()'>hi</div>"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (JPEG, "image/jpeg"),
        (PNG, "image/png"),
        (GIF, "image/gif"),
        (WEBP, "image/webp"),
        (AVIF, "image/avif"),
        (BMP, "image/bmp"),
        (TIFF, "image/tiff"),
        (ICO, "image/x-icon"),
        (PDF, "application/pdf"),
        (zip_bytes(), "application/zip"),
        (gzip.compress(b"hello"), "application/gzip"),
        (SVG, "image/svg+xml"),
        (b"<svg viewBox='0 0 1 1'></svg>", "image/svg+xml"),
        (HTML, "text/html"),
        (HTML_FRAGMENT, "text/html"),
        (b'<?xml version="1.0"?><feed/>', "application/xml"),
        (b"just some words", None),
        (b"", None),
    ],
)
def test_detect(data: bytes, expected: str | None) -> None:
    assert detect(data) == expected


@pytest.mark.parametrize(
    ("declared", "data"),
    [
        ("image/jpeg", JPEG),
        ("image/jpg", JPEG),
        ("IMAGE/PNG; charset=binary", PNG),
        ("image/gif", GIF),
        ("image/webp", WEBP),
        ("image/avif", AVIF),
        ("image/svg+xml", SVG),
        ("application/pdf", PDF),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", zip_bytes()),
        ("image/x-unknown-raster", PNG),  # an image type we know no signature of: any image will do
        ("text/html", HTML),  # HTML declared as HTML is what it says
        ("text/plain", b"hello, world"),
        ("text/csv", b"a,b\n1,2\n"),
        ("application/json", b'{"a": 1}'),
        ("video/mp4", b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00"),
        ("application/octet-stream", b"\x00\x01\x02"),
    ],
)
def test_content_that_matches_its_declared_type_is_kept(declared: str, data: bytes) -> None:
    assert check(declared, data) is None


@pytest.mark.parametrize(
    ("declared", "data", "found"),
    [
        ("image/png", HTML, "text/html"),  # the example
        ("image/jpeg", PNG, "image/png"),
        ("image/png", b"GIF8", "not recognised"),  # truncated: not a GIF either
        ("image/svg+xml", HTML, "text/html"),
        ("image/svg+xml", PNG, "image/png"),
        ("image/x-unknown-raster", SVG, "image/svg+xml"),  # script-capable SVG under an unknown image type
        ("application/pdf", b"hello", "not recognised"),
        ("application/zip", PDF, "application/pdf"),
        ("text/plain", HTML_FRAGMENT, "text/html"),
        ("application/json", HTML, "text/html"),
        ("application/octet-stream", HTML, "text/html"),
    ],
)
def test_content_that_contradicts_its_declared_type_is_rejected_with_a_reason(
    declared: str, data: bytes, found: str
) -> None:
    reason = check(declared, data)
    assert reason is not None
    assert found in reason and declared.split(";")[0].lower() in reason
