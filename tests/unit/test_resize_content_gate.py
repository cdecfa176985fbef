"""The resize worker's gate: the catalog's verdict on an original, before any variant is made."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from services.resize.content_gate import refuse_rejected_content
from shared.content_check import HEAD_BYTES, check
from shared.errors import NotAnImage


def image_bytes(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, fmt)
    return buffer.getvalue()


PNG = image_bytes("PNG")
JPEG = image_bytes("JPEG")
HTML = b"<!doctype html><html><script>alert(1)</script></html>"


@pytest.mark.parametrize(
    ("declared", "data"),
    [
        ("image/jpeg", PNG),
        ("image/png", HTML),
        ("image/png", image_bytes("GIF")),
        ("image/webp", b"these are not pixels" * 100),
        ("text/plain", HTML),
    ],
)
def test_content_the_catalog_rejects_is_not_an_image_with_the_catalogs_reason(declared: str, data: bytes) -> None:
    with pytest.raises(NotAnImage) as refused:
        refuse_rejected_content(declared, data)
    assert (refused.value.status, refused.value.code) == (422, "NOT_AN_IMAGE")
    assert refused.value.message == check(declared, data[:HEAD_BYTES])
    assert f"declared type {declared}" in refused.value.message


@pytest.mark.parametrize(
    ("declared", "data"),
    [
        ("image/png", PNG),
        ("Image/JPEG; charset=binary", JPEG),
        ("application/octet-stream", PNG),  # the catalog keeps unknown types as declared
        ("image/x-unknown", PNG),  # another image/* need only be some image
    ],
)
def test_content_the_catalog_keeps_passes(declared: str, data: bytes) -> None:
    refuse_rejected_content(declared, data)


def test_the_verdict_is_taken_on_the_catalogs_head_only() -> None:
    """Markup past the bytes the catalog reads cannot make the worker refuse what the catalog kept."""
    late_script = b"<?xml version='1.0'?>" + b" " * HEAD_BYTES + b"<script>alert(1)</script>"
    assert check("text/plain", late_script) is not None  # the whole file would be refused
    refuse_rejected_content("text/plain", late_script)
