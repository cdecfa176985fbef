"""The resize worker's guards around the kernel: one job per original, originals remembered as
too complex, the caller's deadline, the answer for a stopped job, and their settings."""

from __future__ import annotations

import asyncio

import pytest

from services.resize.expiry import caller_deadline, still_wanted
from services.resize.gate import OriginalGate
from services.resize.remembered import RememberedOriginals
from services.resize.settings import ResizeSettings
from services.resize.worker import stopped_answer
from shared.errors import ImageTooComplex, ResizeBusy, ResizeTimeout
from shared.messages import SENT_AT_HEADER


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_second_job_of_an_original_waits_for_the_first() -> None:
    gate = OriginalGate(slow_after=5.0)
    order: list[str] = []

    async def job(name: str, seconds: float) -> None:
        async with gate.turn("a/photo.jpg"):
            order.append(f"{name} in")
            await asyncio.sleep(seconds)
            order.append(f"{name} out")

    await asyncio.gather(job("first", 0.05), job("second", 0.0))

    assert order == ["first in", "first out", "second in", "second out"]
    assert gate.holding == 0


async def test_other_originals_do_not_wait() -> None:
    gate = OriginalGate(slow_after=5.0)
    async with gate.turn("a/photo.jpg"), gate.turn("b/photo.jpg"):
        assert gate.holding == 2


async def test_a_request_behind_a_slow_job_is_answered_busy_at_once() -> None:
    clock = Clock()
    gate = OriginalGate(slow_after=2.0, clock=clock)
    async with gate.turn("a/bomb.jpg"):
        clock.now += 2.5
        with pytest.raises(ResizeBusy) as busy:
            async with gate.turn("a/bomb.jpg"):
                pass
    assert (busy.value.code, busy.value.status) == ("RESIZE_BUSY", 503)


async def test_a_waiting_request_gives_up_when_the_job_turns_slow() -> None:
    gate = OriginalGate(slow_after=0.1)
    async with gate.turn("a/bomb.jpg"):
        started = asyncio.get_running_loop().time()
        with pytest.raises(ResizeBusy):
            async with gate.turn("a/bomb.jpg"):
                pass
        assert asyncio.get_running_loop().time() - started < 1.0


def test_remembered_originals_are_forgotten_after_a_while() -> None:
    clock = Clock()
    remembered = RememberedOriginals(ttl=60, clock=clock)
    remembered.add("a/bomb.jpg")

    assert "a/bomb.jpg" in remembered and "b/photo.jpg" not in remembered
    clock.now += 61
    assert "a/bomb.jpg" not in remembered
    assert len(remembered) == 0


def test_remembering_is_bounded_oldest_first() -> None:
    remembered = RememberedOriginals(ttl=60, size=2)
    for key in ("a", "b", "c"):
        remembered.add(key)
    assert [key in remembered for key in ("a", "b", "c")] == [False, True, True]


def test_the_caller_deadline_is_the_send_time_plus_the_expiration() -> None:
    headers = {SENT_AT_HEADER: 1_700_000_000_000_000}
    assert caller_deadline(headers, 20.0) == 1_700_000_020.0
    assert caller_deadline(headers, None) is None  # no expiration: nobody said when they give up
    assert caller_deadline({}, 20.0) is None
    assert caller_deadline({SENT_AT_HEADER: "yesterday"}, 20.0) is None
    assert still_wanted(None)
    assert still_wanted(100.0, now=99.9) and not still_wanted(100.0, now=100.0)


@pytest.mark.parametrize(
    ("elapsed", "cpu", "answer"),
    [
        (30.0, 29.0, ImageTooComplex),  # it had a CPU all along: the picture's cost
        (30.0, 15.0, ImageTooComplex),
        (30.0, 5.0, ResizeTimeout),  # the machine was too busy to tell
        (30.0, None, ResizeTimeout),  # no /proc to ask
    ],
)
def test_the_answer_for_a_stopped_job(elapsed: float, cpu: float | None, answer: type) -> None:
    error = stopped_answer(elapsed, cpu)
    assert type(error) is answer
    assert error.status == (422 if answer is ImageTooComplex else 503)


def test_hostile_input_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WORKER_THREADS", "WORKER_PROCESSES", "JOB_MEMORY_LIMIT", "MAX_JPEG_SCANS", "SPARE_PROCESSES"):
        monkeypatch.delenv(name, raising=False)
    defaults = ResizeSettings()
    assert (defaults.job_memory_limit, defaults.max_jpeg_scans, defaults.spare_processes) == (768 * 2**20, 100, 1)
    assert (defaults.slow_job_seconds, defaults.resize_queue_max_length) == (2.0, 1000)

    monkeypatch.setenv("WORKER_THREADS", "3")  # the name from before the pool was of processes
    assert ResizeSettings().pool_size() == 3
    monkeypatch.setenv("WORKER_PROCESSES", "4")
    monkeypatch.delenv("WORKER_THREADS")
    assert ResizeSettings().pool_size() == 4
    monkeypatch.setenv("MAX_JPEG_SCANS", "0")
    with pytest.raises(ValueError):
        ResizeSettings()
