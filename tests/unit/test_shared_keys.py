"""The key layout: originals at {id}/{name}, variants under variants/{id}/."""

from __future__ import annotations

import pytest

from shared.keys import (
    MAX_NAME_LENGTH,
    InvalidKey,
    file_id_of,
    is_file_id,
    is_variant_key,
    new_file_id,
    original_key,
    parse_original_key,
    safe_name,
    variant_key,
    variant_prefix,
)

ID = "3f2a" + "0" * 28


def test_new_ids_are_unique_hex() -> None:
    ids = {new_file_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(is_file_id(i) for i in ids)


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("photo.jpg", "photo.jpg"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\cat.png", "cat.png"),
        ("a\x00b\x1fc\x7f.txt", "abc.txt"),
        ("  lots   of\tspace .pdf ", "lots of space .pdf"),
        (".htaccess", "htaccess"),
        ("..", "file"),
        ("", "file"),
        ("dir/", "file"),
        ("été.jpg", "été.jpg"),
    ],
)
def test_safe_name(given: str, safe: str) -> None:
    assert safe_name(given) == safe


def test_long_names_are_capped_keeping_the_extension() -> None:
    name = safe_name("x" * 500 + ".jpeg")
    assert len(name) == MAX_NAME_LENGTH and name.endswith(".jpeg")
    assert len(safe_name("y" * 500)) == MAX_NAME_LENGTH


def test_original_key_round_trips() -> None:
    key = original_key(ID, "../holiday photo.jpg")
    assert str(key) == f"{ID}/holiday photo.jpg"
    assert parse_original_key(str(key)) == key
    assert file_id_of(str(key)) == ID


@pytest.mark.parametrize(
    "key",
    ["", "nothex/x.jpg", f"{ID}", f"{ID}/", f"{ID}/a/b.jpg", f"variants/{ID}/x.jpg/w300.jpg", f"{ID.upper()}/x.jpg"],
)
def test_keys_outside_the_layout_are_not_originals(key: str) -> None:
    with pytest.raises(InvalidKey):
        parse_original_key(key)


def test_variant_keys_live_under_the_prefix_cleanup_deletes() -> None:
    variant = str(variant_key(parse_original_key(f"{ID}/photo.jpg"), 300, "jpg"))
    assert variant == f"variants/{ID}/photo.jpg/w300.jpg"
    assert variant.startswith(variant_prefix(ID))
    assert is_variant_key(variant) and not is_variant_key(f"{ID}/photo.jpg")
    assert file_id_of(variant) == ID


def test_variant_prefix_refuses_what_is_not_an_id() -> None:
    with pytest.raises(InvalidKey):
        variant_prefix("")  # would be "variants//": never delete the wrong prefix
    with pytest.raises(InvalidKey):
        variant_prefix("../x")
