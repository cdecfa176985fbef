"""Waiting for something that happens shortly after what a test can observe directly.

``eventually`` is the one polling loop of the tests: it calls ``check`` (sync or async) until the
value satisfies ``until`` (by default: is truthy) and returns that value. When ``timeout`` seconds
pass first, the test fails with what was awaited and the last value seen. ``eventually_blocking``
is the same for the tests that are not coroutines (the end-to-end ones).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")

_MAX_SHOWN = 600


@overload
async def eventually(
    check: Callable[[], Awaitable[T | None]],
    timeout: float = ...,
    *,
    interval: float = ...,
    what: str | None = ...,
) -> T: ...


@overload
async def eventually(
    check: Callable[[], Awaitable[T]],
    timeout: float = ...,
    *,
    until: Callable[[T], bool],
    interval: float = ...,
    what: str | None = ...,
) -> T: ...


@overload
async def eventually(
    check: Callable[[], T | None],
    timeout: float = ...,
    *,
    interval: float = ...,
    what: str | None = ...,
) -> T: ...


@overload
async def eventually(
    check: Callable[[], T],
    timeout: float = ...,
    *,
    until: Callable[[T], bool],
    interval: float = ...,
    what: str | None = ...,
) -> T: ...


async def eventually(
    check: Callable[[], Any],
    timeout: float = 15.0,
    *,
    until: Callable[[Any], bool] = bool,
    interval: float = 0.05,
    what: str | None = None,
) -> Any:
    """Poll ``check`` every ``interval`` seconds until ``until(value)``; return that value.

    A value that does not satisfy ``until`` once ``timeout`` seconds have passed fails the test
    with ``what`` (by default the check's name, or a lambda's source line) and that value.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if until(value):
            return value
        if loop.time() >= deadline:
            raise AssertionError(not_met(check, what, timeout, value))
        await asyncio.sleep(interval)


def eventually_blocking(
    check: Callable[[], T],
    timeout: float = 15.0,
    *,
    until: Callable[[T], bool] = bool,
    interval: float = 0.2,
    what: str | None = None,
) -> T:
    """``eventually`` for a test that is not a coroutine (the check may block, or run a loop of its own)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if until(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(not_met(check, what, timeout, value))
        time.sleep(interval)


def not_met(check: Callable[[], Any], what: str | None, timeout: float, last: Any) -> str:
    shown = repr(last)
    if len(shown) > _MAX_SHOWN:
        shown = shown[:_MAX_SHOWN] + "..."
    return f"not met within {timeout:g} s: {what or _describe(check)}; last value: {shown}"


def _describe(check: Callable[[], Any]) -> str:
    """A check's name, or for a lambda the line it is written on."""
    name = getattr(check, "__qualname__", None) or repr(check)
    if not name.endswith("<lambda>"):
        return name
    try:
        return " ".join(inspect.getsource(check).split())
    except (OSError, TypeError):
        return name
