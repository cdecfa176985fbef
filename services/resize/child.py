"""A kernel process: ``python -m services.resize.child``, started and fed by ``KernelPool``.

Why a process: a thread cannot be stopped in CPython, so a picture that takes minutes to decode
would hold a pool thread for minutes whatever the job limit says. A process can be killed at
the deadline, and it can have a memory limit of its own. This one reads jobs from stdin and
writes replies to stdout (``services.resize.protocol`` frames), one job at a time, until stdin
closes.

Set-up, in order: ignore SIGINT/SIGTERM (the parent decides when a job ends: a Ctrl-C or a
SIGTERM to the process group must not drop a job in hand), die with the parent (Linux
``PR_SET_PDEATHSIG``), move stdout to stderr so that nothing but frames reaches the parent,
import the kernel and Pillow's plugins, then cap the address space (``RLIMIT_AS``) at its size
now plus ``--memory-limit``: that is what one job may add. A job that needs more fails inside
Pillow with ``MemoryError`` and is answered TOO_MANY_PIXELS; the process lives on.

Replies: ``{"ok": true, "content_type", "size", "peak_rss"}`` + the variant's bytes, or
``{"ok": false, "code", "message"}`` for a refusal (a ``ServiceError``), or ``{"ok": false,
"error"}`` for anything else (a bug: the worker retries the request). ``peak_rss`` is the
process's peak resident memory during the job (reset after each one).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib
import os
import resource
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from services.resize.job import JobSpec
from services.resize.kernel import Resized
from services.resize.protocol import Header, read_frame, write_frame
from shared.errors import ServiceError, TooManyPixels

DEFAULT_KERNEL = "services.resize.job:run_job"
Kernel = Callable[[JobSpec, bytes], Resized]
_PR_SET_PDEATHSIG = 1


def load_kernel(path: str) -> Kernel:
    """``module:function`` -> the function."""
    module, _, name = path.partition(":")
    kernel: Kernel = getattr(importlib.import_module(module), name)
    return kernel


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not Linux: stdin's end still stops the loop
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _limit_memory(job_bytes: int) -> None:
    if job_bytes <= 0:
        return
    size = _status_kib("VmSize")
    base = size * 1024 if size is not None else 0
    resource.setrlimit(resource.RLIMIT_AS, (base + job_bytes, base + job_bytes))


def _peak_rss() -> int | None:
    """Peak resident memory since the last reset, then reset it (Linux ``clear_refs`` 5)."""
    peak = _status_kib("VmHWM")
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return peak * 1024 if peak is not None else None


def serve_one(kernel: Kernel, header: Header, data: bytes) -> tuple[Header, bytes]:
    """One job: the reply header and payload (never raises for what the picture does)."""
    try:
        spec = JobSpec.from_header(header)
        result = kernel(spec, data)
    except ServiceError as exc:
        return {"ok": False, "code": exc.code, "message": exc.message}, b""
    except MemoryError:
        refusal = TooManyPixels("The image needs more memory than one resize may take.")
        return {"ok": False, "code": refusal.code, "message": refusal.message}, b""
    except Exception as exc:  # noqa: BLE001 - reported; the worker retries the request
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}, b""
    return {"ok": True, "content_type": result.content_type, "size": list(result.size)}, result.data


def serve(kernel: Kernel, requests: BinaryIO, replies: BinaryIO) -> None:
    while (request := read_frame(requests)) is not None:
        header, payload = serve_one(kernel, *request)
        del request
        header["peak_rss"] = _peak_rss()
        write_frame(replies, header, payload)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A resize kernel process (started by KernelPool).")
    parser.add_argument("--kernel", default=DEFAULT_KERNEL)
    parser.add_argument("--memory-limit", type=int, default=0, help="bytes of address space one job may add")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent()
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    kernel = load_kernel(args.kernel)
    from PIL import Image

    Image.init()  # every plugin loaded now, not counted against the first job's memory
    _limit_memory(args.memory_limit)
    ready: dict[str, Any] = {"ready": True, "pid": os.getpid()}
    write_frame(replies, ready)
    serve(kernel, sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
