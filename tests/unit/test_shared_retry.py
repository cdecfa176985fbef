"""The one back-off: delays that double up to a ceiling, waits that a stop cuts short, and a retry
loop that gives up (``Stopped``) as soon as its component stops."""

from __future__ import annotations

import asyncio

import pytest

from shared.errors import Unavailable
from shared.retry import Backoff, RetryPolicy, Stopped, retry


def test_delays_double_up_to_the_maximum() -> None:
    policy = RetryPolicy(initial=0.5, maximum=3.0)
    assert [policy.delay(n) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.delay(10_000) == 3.0


async def test_backoff_doubles_per_failure_and_resets_after_a_success() -> None:
    backoff = Backoff(RetryPolicy(initial=0.001, maximum=0.004), asyncio.Event())
    delays = []
    for _ in range(4):
        delays.append(backoff.delay)
        assert await backoff.wait() is True
    assert delays == [0.001, 0.002, 0.004, 0.004]
    backoff.reset()
    assert backoff.delay == 0.001


async def test_a_stop_cuts_a_wait_short() -> None:
    stop = asyncio.Event()
    backoff = Backoff(RetryPolicy(initial=30.0, maximum=30.0), stop)
    loop = asyncio.get_running_loop()
    started = loop.time()
    loop.call_later(0.01, stop.set)
    assert await backoff.wait() is False
    assert loop.time() - started < 1.0
    assert await backoff.wait() is False  # and once stopped, no wait waits


async def test_retry_returns_once_the_attempt_works() -> None:
    failures: list[tuple[str, float]] = []
    attempts = 0

    async def attempt() -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise Unavailable("down")
        return "done"

    result = await retry(
        attempt,
        policy=RetryPolicy(initial=0.001, maximum=0.01),
        stop=asyncio.Event(),
        retry_on=Unavailable,
        on_failure=lambda exc, seconds: failures.append((str(exc), seconds)),
    )
    assert result == "done"
    assert failures == [("down", 0.001), ("down", 0.002)]


async def test_retry_lets_other_errors_through() -> None:
    async def attempt() -> None:
        raise KeyError("not transient")

    with pytest.raises(KeyError):
        await retry(
            attempt,
            policy=RetryPolicy(initial=0.001),
            stop=asyncio.Event(),
            retry_on=Unavailable,
            on_failure=lambda exc, seconds: None,
        )


async def test_retry_gives_up_at_once_when_stopping() -> None:
    stop = asyncio.Event()

    async def attempt() -> None:
        stop.set()
        raise Unavailable("down")

    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(Stopped):
        await retry(
            attempt,
            policy=RetryPolicy(initial=30.0, maximum=30.0),
            stop=stop,
            retry_on=Unavailable,
            on_failure=lambda exc, seconds: None,
        )
    assert loop.time() - started < 1.0
