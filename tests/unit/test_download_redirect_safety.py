"""Which types may go to the S3 origin (``may_redirect``), and how the odd spellings of a type are
read (pure rules). The same rules against a real SeaweedFS: tests/integration/test_download_active_content.py."""

from __future__ import annotations

import pytest

from services.download.content_safety import (
    _SCRIPT_CAPABLE,
    DOCUMENT_POLICY,
    is_script_capable,
    is_well_formed,
    may_redirect,
    safety_headers,
)

# Every spelling here would run script (or render a document) if S3 served it inline.
ACTIVE = [
    *sorted(_SCRIPT_CAPABLE),
    "image/svg+xml",
    "IMAGE/SVG+XML; charset=utf-8",
    "Text/HTML; charset=utf-8",
    " text/html ",
    "text/html;",
    "TEXT/HTML;charset=UTF-8;foo=bar",
    "application/rss+xml",
    "application/atom+xml",
    "application/mathml+xml",
    "application/vnd.mozilla.xul+xml",
    "multipart/x-mixed-replace; boundary=x",
    # not parseable: a browser sniffs
    "",
    " ",
    "html",
    "text/",
    "/html",
    "text/html/x",
    "text /html",
    "image/png, text/html",
    "image/png,text/html",
    'image/png; x="a,b"',
    "image/jpeg\x00",
    "image/jp\u00e9g",
]
INERT = [
    "image/jpeg",
    "IMAGE/JPEG",
    "image/png; foo=bar",
    "image/webp",
    "image/avif",
    "image/gif",
    "video/mp4",
    "audio/mpeg",
    "application/pdf",
    "application/zip",
    "application/octet-stream",
    "binary/octet-stream",
    "text/plain; charset=utf-8",
    "text/csv",
    "application/json",
]


@pytest.mark.parametrize("content_type", ACTIVE)
def test_active_content_is_never_redirected(content_type: str) -> None:
    assert not may_redirect(content_type)


@pytest.mark.parametrize("content_type", INERT)
def test_inert_types_are_redirected(content_type: str) -> None:
    assert may_redirect(content_type)
    assert safety_headers(content_type, "0123/file") == {}


@pytest.mark.parametrize("content_type", [t for t in ACTIVE if "svg" not in t.lower()])
def test_active_content_other_than_svg_is_an_attachment_here(content_type: str) -> None:
    assert is_script_capable(content_type)
    headers = safety_headers(content_type, "0123/page.html")
    assert headers["Content-Disposition"] == 'attachment; filename="page.html"'
    assert headers["Content-Security-Policy"] == DOCUMENT_POLICY


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/html", True),
        ("Text/HTML; charset=utf-8", True),
        ("image/svg+xml", True),
        ("x-custom/x.y+z-1_2", True),
        ("", False),
        ("text", False),
        ("image/png, text/html", False),
        ("image/png;text/html", True),  # a parameter without '=': ignored by browsers, still image/png
    ],
)
def test_well_formed(content_type: str, expected: bool) -> None:
    assert is_well_formed(content_type) is expected
