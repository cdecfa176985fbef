"""The exact size of each part of a multipart upload (signed into its URL): the parts add up to the
declared size, every part but the last is at least 5 MiB, none exceeds 5 GiB, and the count is what
was asked for."""

from __future__ import annotations

import pytest

from services.gateway.uploads import MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, check_part_count, part_sizes
from shared.errors import ValidationFailed

MIB = 1024**2
SIZES = [1, 10, 1000, MIN_PART_SIZE - 1, MIN_PART_SIZE, MIN_PART_SIZE + 1, 2 * MIN_PART_SIZE - 1, 12 * MIB,
         15 * MIB + 1, 100 * MIB, 1024**3 + 7, 10 * 1024**3, 5 * 1024**4]  # fmt: skip


@pytest.mark.parametrize("size", SIZES)
def test_every_allowed_count_cuts_the_size_into_signable_parts(size: int) -> None:
    most = max(1, min(MAX_PARTS, (size - 1) // MIN_PART_SIZE + 1))
    least = max(1, -(-size // MAX_PART_SIZE))
    counts = sorted({least, least + 1, (least + most) // 2, most - 1, most} & set(range(least, most + 1)))
    for count in counts:
        assert check_part_count(count, size) == count
        sizes = part_sizes(size, count)
        assert len(sizes) == count and sum(sizes) == size, (size, count)
        assert all(MIN_PART_SIZE <= s <= MAX_PART_SIZE for s in sizes[:-1]), (size, count)
        assert 1 <= sizes[-1] <= max(sizes), (size, count)


def test_the_natural_cut_when_it_is_large_enough() -> None:
    assert part_sizes(10, 1) == [10]
    assert part_sizes(3 * MIN_PART_SIZE, 3) == [MIN_PART_SIZE] * 3
    assert part_sizes(30 * MIB + 1, 3) == [10 * MIB + 1, 10 * MIB + 1, 10 * MIB - 1]
    assert part_sizes(15 * MIB + 1, 4) == [MIN_PART_SIZE] * 3 + [1]  # ceil(size / 4) would be under 5 MiB


def test_a_part_larger_than_s3_takes_is_refused_up_front() -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_part_count(1, MAX_PART_SIZE + 1)
    problem = (refused.value.data or {})["invalidFields"]["numberOfParts"]
    assert problem["data"] == {"min": 2, "max": 1000}
    assert check_part_count(2, MAX_PART_SIZE + 1) == 2


def test_a_count_that_cannot_be_cut_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        part_sizes(10, 4)  # check_part_count allows 1 part for 10 bytes
