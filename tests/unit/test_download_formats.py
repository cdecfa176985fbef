"""Key checks and resize-format decisions of the download service (pure rules)."""

from __future__ import annotations

import pytest

from services.download.formats import checked_key, format_from_name, resize_format
from shared.errors import NotFound
from shared.http import accepted_correlation_id


@pytest.mark.parametrize(
    ("content_type", "fmt"),
    [
        ("image/jpeg", "jpeg"),
        ("image/JPEG; charset=binary", "jpeg"),
        ("image/png", "png"),
        ("image/webp", "webp"),
        ("image/gif", None),
        ("image/svg+xml", None),
        ("application/pdf", None),
        ("", None),
    ],
)
def test_resize_format_follows_the_content_type(content_type: str, fmt: str | None) -> None:
    assert resize_format(content_type) == fmt


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("photo.jpg", "jpeg"), ("PHOTO.JPEG", "jpeg"), ("a.png", "png"), ("a.webp", "webp"), ("a.gif", None)],
)
def test_format_guess_from_name(name: str, fmt: str | None) -> None:
    assert format_from_name(name) == fmt


def test_no_guess_without_extension() -> None:
    assert format_from_name("photo") is None
    assert format_from_name(".png") is None


@pytest.mark.parametrize("key", ["abc/photo.jpg", "variants/abc/photo.jpg/w300.jpg", "a/b c.pdf"])
def test_ordinary_keys_pass(key: str) -> None:
    assert checked_key(key) == key


@pytest.mark.parametrize("key", ["", "/abc", "abc/../x", "..", "abc/./x", "abc//x", "abc/", "abc/\x00x", "abc/x\ny"])
def test_traversal_and_empty_keys_are_not_found(key: str) -> None:
    with pytest.raises(NotFound):
        checked_key(key)


def test_correlation_ids_are_accepted_only_when_safe() -> None:
    assert accepted_correlation_id("req-123_abc.def") == "req-123_abc.def"
    assert accepted_correlation_id(None) is None
    assert accepted_correlation_id("has space") is None
    assert accepted_correlation_id("x" * 129) is None
    assert accepted_correlation_id("line\nbreak") is None
