"""The part size rule of multipart uploads signed call by call, and the page's security policy."""

from __future__ import annotations

import pytest

from services.gateway.uploads import MAX_PARTS, MIN_PART_SIZE, signed_part_count, signed_part_length, signed_part_size
from services.gateway.web import content_security_policy, origin_of
from shared.errors import ValidationFailed


@pytest.mark.parametrize("size", [1, 10, MIN_PART_SIZE, MIN_PART_SIZE + 1, 11 * 1024**2 + 5, 5 * 1024**3 + 7])
def test_parts_add_up_and_all_but_the_last_have_the_part_size(size: int) -> None:
    count = signed_part_count(size)
    lengths = [signed_part_length(size, n) for n in range(1, count + 1)]
    assert sum(lengths) == size and 1 <= count <= MAX_PARTS
    assert all(length == signed_part_size(size) >= MIN_PART_SIZE for length in lengths[:-1])
    assert 1 <= lengths[-1] <= signed_part_size(size)


def test_big_files_get_bigger_parts_to_stay_within_the_part_count() -> None:
    size = 20 * 1024**3
    assert signed_part_size(size) == -(-size // MAX_PARTS) and signed_part_count(size) == MAX_PARTS


@pytest.mark.parametrize("number", [0, 4, -1, True, "1", None])
def test_part_numbers_outside_the_upload_are_refused(number: object) -> None:
    with pytest.raises(ValidationFailed) as refused:
        signed_part_length(2 * MIN_PART_SIZE + 1, number)
    problem = refused.value.data["invalidFields"]["partNumber"]  # type: ignore[index]
    assert problem["code"] == "OUT_OF_RANGE" and problem["data"] == {"min": 1, "max": 3}


def test_the_policy_names_only_the_origins_the_page_talks_to() -> None:
    csp = content_security_policy(s3_origins=["https://s3.example.com"], download_origins=["https://cdn.example.com"])
    rules = dict(part.split(" ", 1) for part in csp.split("; "))
    assert rules["default-src"] == "'none'" and rules["script-src"] == "'self'"
    assert rules["connect-src"] == "'self' https://s3.example.com https://cdn.example.com"
    assert rules["img-src"] == "'self' data: blob: https://cdn.example.com"
    assert "unsafe" not in csp


def test_origins() -> None:
    assert origin_of("https://cdn.example.com/files/") == "https://cdn.example.com"
    assert origin_of("http://127.0.0.1:8333/files/x?X-Amz-Signature=1") == "http://127.0.0.1:8333"
    assert origin_of("/files/") is None
