"""Which files are sent as attachments or sandboxed, and the file-name header (pure rules)."""

from __future__ import annotations

import pytest

from services.download.content_safety import (
    SVG_POLICY,
    content_disposition,
    is_script_capable,
    safety_headers,
)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/html",
        "text/html; charset=utf-8",
        "TEXT/HTML",
        "application/xhtml+xml",
        "application/xml",
        "text/xml",
        "application/rss+xml",
        "application/javascript",
        "text/javascript",
    ],
)
def test_script_capable_types_are_attachments(content_type: str) -> None:
    assert is_script_capable(content_type)
    headers = safety_headers(content_type, "0123/page.html")
    assert headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "content_type", ["image/jpeg", "image/png", "image/gif", "application/pdf", "text/plain", "video/mp4"]
)
def test_ordinary_types_render_inline(content_type: str) -> None:
    assert not is_script_capable(content_type)
    assert safety_headers(content_type, "0123/file") == {}


def test_svg_is_inline_but_sandboxed() -> None:
    headers = safety_headers("image/svg+xml", "0123/logo.svg")
    assert headers == {"Content-Security-Policy": SVG_POLICY}
    assert "Content-Disposition" not in headers


def test_disposition_plain_name() -> None:
    assert content_disposition("page.html") == 'attachment; filename="page.html"'


def test_disposition_unicode_and_quotes() -> None:
    value = content_disposition('naïve "x".html')
    assert value == "attachment; filename=\"na_ve _x_.html\"; filename*=UTF-8''na%C3%AFve%20%22x%22.html"
    value.encode("latin-1")  # a header value must encode


def test_disposition_uses_the_last_key_segment() -> None:
    headers = safety_headers("text/html", "3f2a/evil.html")
    assert headers["Content-Disposition"] == 'attachment; filename="evil.html"'
