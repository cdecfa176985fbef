"""Counting a JPEG's scans from its markers: real encoders' files, crafted ones, and odd bytes."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from devstack.bombs import many_scans_jpeg
from devstack.photos import photo
from services.resize.scans import check_scans, count_scans
from shared.errors import TooManyScans


def jpeg(**params: object) -> bytes:
    buffer = io.BytesIO()
    photo(320, 240).save(buffer, "JPEG", **params)
    return buffer.getvalue()


def test_baseline_jpeg_has_one_scan() -> None:
    assert count_scans(jpeg(quality=90), stop_after=100) == 1


def test_libjpeg_progression_has_ten_scans() -> None:
    assert count_scans(jpeg(quality=90, progressive=True), stop_after=100) == 10


def test_crafted_file_decodes_and_is_counted() -> None:
    data = many_scans_jpeg(64, 48, 40)

    assert count_scans(data, stop_after=1000) == 40
    with Image.open(io.BytesIO(data)) as image:  # a real JPEG, which a decoder accepts
        image.load()
        assert image.size == (64, 48)


def test_counting_stops_past_the_limit() -> None:
    assert count_scans(many_scans_jpeg(64, 48, 500), stop_after=10) == 11


def test_markers_inside_a_segment_are_not_counted() -> None:
    """An APP segment whose payload holds FF DA is skipped by its length, not read as a scan."""
    data = jpeg(quality=90)
    app = b"\xff\xe9" + (2 + 6).to_bytes(2, "big") + b"\xff\xda\xff\xda\x00\x00"
    assert count_scans(data[:2] + app + data[2:], stop_after=100) == 1


def test_only_the_first_picture_counts() -> None:
    data = jpeg(quality=90)
    assert count_scans(data + many_scans_jpeg(64, 48, 200), stop_after=100) == 1


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff\xd8", b"\xff\xd8\xff", b"\xff\xd8\xff\xda", b"\xff\xd8\xff\xda\x00\x01", b"not a jpeg", b"\xff\xd8xx"],
)
def test_broken_bytes_count_what_is_there(data: bytes) -> None:
    assert count_scans(data, stop_after=100) <= 1


def test_a_truncated_scan_counts() -> None:
    data = jpeg(quality=90, progressive=True)
    assert count_scans(data[: len(data) // 2], stop_after=100) >= 1


def test_check_refuses_too_many_and_passes_the_rest() -> None:
    check_scans(jpeg(quality=90, progressive=True), 10)
    check_scans(b"\x89PNG\r\n\x1a\n", 1)  # not a JPEG: not ours to judge
    with pytest.raises(TooManyScans) as refused:
        check_scans(many_scans_jpeg(64, 48, 12), 10)
    assert (refused.value.code, refused.value.status) == ("TOO_MANY_SCANS", 422)


def test_counting_a_large_file_is_quick() -> None:
    """A 49 MP bomb of a thousand scans is refused in milliseconds, not decoded for seconds."""
    data = many_scans_jpeg(7000, 7000, 1000)
    started = time.perf_counter()
    with pytest.raises(TooManyScans):
        check_scans(data, 100)
    assert time.perf_counter() - started < 0.5
