"""Kernels for tests of the kernel pool, loaded by name in its processes (``KernelPool(kernel=...)``):
each behaves by the job's ``width``, so one pool can be fed fast, slow and fatal jobs."""

from __future__ import annotations

import os
import signal
import time

from services.resize.job import JobSpec
from services.resize.kernel import Resized


def burn(spec: JobSpec, data: bytes) -> Resized:
    """Spin the CPU for ``width`` milliseconds, then echo the bytes back."""
    deadline = time.process_time() + spec.width / 1000
    while time.process_time() < deadline:
        pass
    return Resized(data, "application/octet-stream", (spec.width, 1))


def sleep(spec: JobSpec, data: bytes) -> Resized:
    """Wait ``width`` milliseconds without using the CPU, then echo the bytes back."""
    time.sleep(spec.width / 1000)
    return Resized(data, "application/octet-stream", (spec.width, 1))


def die(spec: JobSpec, data: bytes) -> Resized:
    """The process dies as a decoder's crash would make it."""
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def fail(spec: JobSpec, data: bytes) -> Resized:
    raise RuntimeError("a bug in the kernel")


def allocate(spec: JobSpec, data: bytes) -> Resized:
    """Take ``width`` MiB at once, as a decoder does for its pixels."""
    block = bytearray(spec.width * 1024 * 1024)
    return Resized(bytes(len(block) // (1024 * 1024)), "application/octet-stream", (spec.width, 1))
