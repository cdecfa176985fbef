"""Upload validation: size range, MIME type, allowed patterns, batch limits."""

from __future__ import annotations

from typing import Any

import pytest

from services.gateway.uploads import MAX_BATCH_UPLOADS, UploadPolicy
from shared.errors import LimitExceeded, ValidationFailed

POLICY = UploadPolicy(min_size=10, max_size=1000, allowed_types=("image/*", "application/pdf"))


def _invalid(raw: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ValidationFailed) as caught:
        POLICY.check(raw)
    assert caught.value.code == "VALIDATION_FAILED"
    fields: dict[str, Any] = (caught.value.data or {})["invalidFields"]
    return fields


def test_a_valid_upload_is_normalized() -> None:
    request = POLICY.check({"name": " photo.JPG ", "type": "Image/JPEG", "size": 500})
    assert (request.name, request.type, request.size) == ("photo.JPG", "image/jpeg", 500)


@pytest.mark.parametrize(
    ("raw", "field", "code"),
    [
        ({"name": "a.jpg", "type": "image/jpeg", "size": 1001}, "size", "TOO_LARGE"),
        ({"name": "a.jpg", "type": "image/jpeg", "size": 9}, "size", "TOO_SMALL"),
        ({"name": "a.jpg", "type": "image/jpeg", "size": True}, "size", "INVALID"),
        ({"name": "a.jpg", "type": "image/jpeg", "size": "100"}, "size", "INVALID"),
        ({"name": "a.txt", "type": "text/plain", "size": 100}, "type", "NOT_ALLOWED"),
        ({"name": "a", "type": "jpeg", "size": 100}, "type", "INVALID"),
        ({"name": "a", "type": "image/jpeg; charset=x", "size": 100}, "type", "INVALID"),
        ({"name": "a", "type": "image/", "size": 100}, "type", "INVALID"),
        ({"name": "   ", "type": "image/png", "size": 100}, "name", "REQUIRED"),
        ({"type": "image/png", "size": 100}, "name", "REQUIRED"),
    ],
)
def test_invalid_uploads_name_the_field(raw: dict[str, Any], field: str, code: str) -> None:
    fields = _invalid(raw)
    assert list(fields) == [field]
    assert fields[field]["code"] == code


def test_every_problem_is_listed_at_once() -> None:
    fields = _invalid({"name": "", "type": "nope", "size": 0})
    assert set(fields) == {"name", "type", "size"}


def test_default_policy_allows_any_type() -> None:
    policy = UploadPolicy(min_size=1, max_size=10)
    assert policy.check({"name": "x.bin", "type": "application/octet-stream", "size": 10}).size == 10


def test_exact_type_patterns() -> None:
    assert POLICY.allows_type("application/pdf")
    assert not POLICY.allows_type("application/pdfx")
    assert POLICY.allows_type("image/svg+xml")


def test_batch_limits() -> None:
    good = {"name": "a.png", "type": "image/png", "size": 100}
    assert len(POLICY.check_many([good] * MAX_BATCH_UPLOADS)) == MAX_BATCH_UPLOADS
    with pytest.raises(LimitExceeded):
        POLICY.check_many([good] * (MAX_BATCH_UPLOADS + 1))
    with pytest.raises(ValidationFailed):
        POLICY.check_many([])
    with pytest.raises(ValidationFailed) as caught:
        POLICY.check_many([good, {**good, "size": 5000}, None])
    items = (caught.value.data or {})["items"]
    assert [item["index"] for item in items] == [1, 2]


def test_multipart_part_counts() -> None:
    from services.gateway.uploads import MAX_PARTS, MIN_PART_SIZE, check_part_count

    assert check_part_count(1, 10) == 1
    assert check_part_count(3, 3 * MIN_PART_SIZE) == 3
    assert check_part_count(2, MIN_PART_SIZE + 1) == 2  # 5 MiB, then one byte
    for parts, size in ((2, MIN_PART_SIZE), (3, 2 * MIN_PART_SIZE), (0, 10), (True, 10), ("2", 10 * MIN_PART_SIZE)):
        with pytest.raises(ValidationFailed):
            check_part_count(parts, size)
    with pytest.raises(ValidationFailed):
        check_part_count(MAX_PARTS + 1, (MAX_PARTS + 1) * MIN_PART_SIZE)


def test_the_size_of_a_completed_multipart_upload() -> None:
    from services.gateway.catalog.model import Preferences
    from services.gateway.upload_service import size_problem

    settings = Preferences(upload_min_file_size=5, upload_max_file_size=1000, src_prefix="x", allowed_types=())
    assert size_problem(100, settings, "100") is None
    assert size_problem(100, settings, None) is None, "no declared size: the settings alone"
    too_large = size_problem(101, settings, "100")
    assert (
        too_large is not None and too_large["code"] == "TOO_LARGE" and too_large["data"] == {"max": 100, "given": 101}
    )
    assert (size_problem(1001, settings, None) or {})["code"] == "TOO_LARGE"
    assert (size_problem(4, settings, "100") or {})["code"] == "TOO_SMALL"
