"""The tests' one polling loop: it returns what it waited for, and fails saying what and the last value."""

from __future__ import annotations

import itertools

import pytest

from tests.support.waiting import eventually, eventually_blocking


async def test_returns_the_first_value_that_satisfies_the_check() -> None:
    counter = itertools.count()

    async def next_number() -> int:
        return next(counter)

    assert await eventually(next_number, timeout=5, until=lambda n: n >= 3, interval=0.001) == 3
    calls = iter([None, None, "message"])
    assert await eventually(lambda: next(calls), timeout=5, interval=0.001) == "message"


async def test_a_check_that_is_not_met_in_time_fails_with_what_and_the_last_value() -> None:
    async def queue_length() -> int:
        return 7

    with pytest.raises(AssertionError) as failure:
        await eventually(queue_length, timeout=0.05, until=lambda n: n == 0, what="the queue to drain")
    assert str(failure.value) == "not met within 0.05 s: the queue to drain; last value: 7"

    pending: list[str] = ["job"]
    with pytest.raises(AssertionError) as failure:
        await eventually(lambda: not pending, timeout=0.05)
    assert "lambda: not pending" in str(failure.value), "a lambda is described by its source"
    assert str(failure.value).endswith("last value: False")


def test_the_blocking_form_waits_the_same_way() -> None:
    values = iter([[], [], ["done"]])
    assert eventually_blocking(lambda: next(values), timeout=5, interval=0.001) == ["done"]
    with pytest.raises(AssertionError, match="last value: 'not yet'"):
        eventually_blocking(lambda: "not yet", timeout=0.05, until=lambda v: v == "done")
