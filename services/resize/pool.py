"""A small pool of kernel processes that the worker owns: jobs in, variants out, deadlines real.

Why processes (``services.resize.child``): a job past its deadline is killed (SIGKILL) and a new
process takes its place, so ``JOB_TIMEOUT`` bounds the CPU a picture can take, and each process
caps the memory one job may add (``RLIMIT_AS``). The bytes go through pipes as they are (see
``protocol``); ``bench.pool`` measures what this costs against the threads it replaced.

Seats: at most ``processes`` jobs run at once, one per process, except that a job running for
longer than ``slow_after`` seconds is *slow*: up to ``spares`` slow jobs give their seat to a
new job (in a spare process). A couple of pictures that take the whole deadline then cannot
hold back an ordinary one for more than ``slow_after`` seconds, and the pool never runs more
than ``processes + spares`` jobs (what the pod's memory must hold).

Outcomes of ``run``: a ``KernelResult``; the picture's refusal as its ``ServiceError``
(NOT_AN_IMAGE, TOO_MANY_PIXELS, TOO_MANY_SCANS, ...); ``JobTimedOut`` (killed at the
deadline, with the CPU it had used); ``KernelCrashed`` (the process died without a reply: an
out-of-memory kill, a crash in a decoder); ``KernelFailed`` (an unexpected exception inside
the kernel); ``CallerGone`` (``wanted()`` said no once a seat was free).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.resize.child import DEFAULT_KERNEL
from services.resize.job import JobSpec
from services.resize.protocol import Header, ProtocolError, frame, read_frame_async
from shared.errors import ServiceError, error_from_code
from shared.logging import get_logger

log = get_logger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class KernelResult:
    data: bytes
    content_type: str
    size: tuple[int, int]
    peak_rss: int | None  # the kernel process's peak resident memory during the job, in bytes


class JobTimedOut(Exception):
    """The job outlived the deadline and its process was killed; ``cpu_seconds`` is the CPU the
    job had used (its process's and its threads', from ``/proc``; None where there is none)."""

    def __init__(self, elapsed: float, cpu_seconds: float | None) -> None:
        super().__init__(f"killed after {elapsed:.1f} s ({cpu_seconds} s of CPU)")
        self.elapsed = elapsed
        self.cpu_seconds = cpu_seconds


class KernelCrashed(Exception):
    """The kernel process ended without answering."""


class KernelFailed(Exception):
    """The kernel raised something that is not a refusal (a bug of ours)."""


class CallerGone(Exception):
    """Nobody waits for the job any more: it was not started."""


# A pipe as big as Linux lets anyone make one (``/proc/sys/fs/pipe-max-size``, 1 MiB by default):
# an original of up to this size goes to its kernel process in one write. With the default 64 KiB,
# asyncio writes a 0.7 MB original in a dozen wake-ups, moving the rest of its buffer down each
# time: about a sixth of the worker's own CPU per resize (py-spy; docs/BENCHMARKS.md).
PIPE_SIZE = 1024 * 1024


def _widen(pipe: object) -> None:
    """Make ``pipe`` (a pipe's file object) ``PIPE_SIZE`` big where the system allows; else leave it."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux only
    fileno = getattr(pipe, "fileno", None)
    if set_size is None or fileno is None:
        return
    with contextlib.suppress(OSError, ValueError):
        fcntl.fcntl(fileno(), set_size, PIPE_SIZE)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process and its threads so far (Linux ``/proc``), None elsewhere."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
        try:
            stat = os.read(fd, 4096).decode(errors="replace")
        finally:
            os.close(fd)
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    except (IndexError, ValueError):
        return None


class _Process:
    """One kernel process and its pipes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc

    @property
    def pid(self) -> int:
        return self._proc.pid

    @classmethod
    async def start(cls, command: Sequence[str], *, timeout: float) -> _Process:
        proc = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=PROJECT_ROOT,
            # glibc gives each thread (the AVIF encoder's) a 64 MiB arena of address space: two
            # arenas keep RLIMIT_AS a bound on memory rather than on reservations.
            env={**os.environ, "MALLOC_ARENA_MAX": "2"},
            start_new_session=True,  # a terminal's Ctrl-C reaches the worker, not its jobs
        )
        process = cls(proc)
        if proc.stdin is not None:
            _widen(proc.stdin.get_extra_info("pipe"))
        try:
            assert proc.stdout is not None
            header, _ = await asyncio.wait_for(read_frame_async(proc.stdout), timeout)
            if not header.get("ready"):
                raise ProtocolError(f"unexpected first frame {header}")
        except BaseException:
            await process.kill()
            raise
        return process

    async def call(self, header: Header, payload: bytes) -> tuple[Header, bytes]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(frame(header, payload))
        if payload:
            self._proc.stdin.write(payload)
        await self._proc.stdin.drain()
        return await read_frame_async(self._proc.stdout)

    async def kill(self) -> int | None:
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()
        return await self._proc.wait()

    async def close(self, timeout: float) -> None:
        """Let the process end by itself (stdin closed); kill it after ``timeout``."""
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            await asyncio.wait_for(self._proc.wait(), timeout)
        except TimeoutError:
            await self.kill()


class KernelPool:
    def __init__(
        self,
        *,
        processes: int,
        job_timeout: float,
        memory_limit: int = 0,
        spares: int = 0,
        slow_after: float = 2.0,
        kernel: str = DEFAULT_KERNEL,
        start_timeout: float = 60.0,
        python: str = sys.executable,
    ) -> None:
        if processes < 1:
            raise ValueError("a pool needs a process")
        self._processes = processes
        self._spares = spares
        self._slow_after = slow_after
        self._job_timeout = job_timeout
        self._start_timeout = start_timeout
        self._command = [python, "-m", "services.resize.child", "--kernel", kernel, "--memory-limit", str(memory_limit)]
        self._idle: list[_Process] = []
        self._running: dict[object, float] = {}  # job -> its start (monotonic)
        self._changed = asyncio.Condition()
        self._background: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def idle_pids(self) -> list[int]:
        return [process.pid for process in self._idle]

    async def start(self) -> None:
        """Start the regular processes (a broken environment fails here, not at the first job)."""
        started = await asyncio.gather(*(self._spawn() for _ in range(self._processes)), return_exceptions=True)
        self._idle.extend(p for p in started if isinstance(p, _Process))
        errors = [e for e in started if isinstance(e, BaseException)]
        if errors:
            await self.close()
            raise errors[0]

    async def run(self, spec: JobSpec, data: bytes, *, wanted: Callable[[], bool] | None = None) -> KernelResult:
        if self._closed:
            raise KernelCrashed("the pool is closed")
        job = object()
        await self._take_seat(job)
        try:
            if wanted is not None and not wanted():
                raise CallerGone()
            return await self._run(spec, data)
        finally:
            del self._running[job]
            async with self._changed:
                self._changed.notify_all()

    async def _run(self, spec: JobSpec, data: bytes) -> KernelResult:
        process = self._idle.pop() if self._idle else await self._spawn()
        started, cpu_before = time.monotonic(), cpu_seconds(process.pid)
        try:
            header, payload = await asyncio.wait_for(process.call(spec.to_header(), data), self._job_timeout)
        except TimeoutError:
            elapsed = time.monotonic() - started
            cpu_after = cpu_seconds(process.pid)
            used = None if cpu_after is None or cpu_before is None else round(cpu_after - cpu_before, 2)
            await process.kill()
            self._replenish()
            log.warning("kernel process killed at the deadline", seconds=round(elapsed, 2), cpu_seconds=used)
            raise JobTimedOut(elapsed, used) from None
        except (OSError, EOFError, asyncio.IncompleteReadError, ProtocolError) as exc:
            returncode = await process.kill()
            self._replenish()
            log.warning("kernel process died", returncode=returncode, error=repr(exc))
            raise KernelCrashed(f"the kernel process ended ({returncode}) without answering") from exc
        except BaseException:  # cancelled: the process may be half-way through the job
            await asyncio.shield(process.kill())
            self._replenish()
            raise
        self._give_back(process)
        return self._result(header, payload)

    @staticmethod
    def _result(header: Header, payload: bytes) -> KernelResult:
        if header.get("ok"):
            width, height = header["size"]
            return KernelResult(payload, str(header["content_type"]), (int(width), int(height)), header.get("peak_rss"))
        if header.get("code"):
            error: ServiceError = error_from_code(str(header["code"]), str(header.get("message") or "") or None)
            raise error
        raise KernelFailed(str(header.get("error", "unknown failure")))

    # --- seats -------------------------------------------------------------------------------

    def _has_seat(self, now: float) -> bool:
        slow = sum(1 for started in self._running.values() if now - started >= self._slow_after)
        return len(self._running) - min(slow, self._spares) < self._processes

    def _next_change(self, now: float) -> float | None:
        """Seconds until a running job turns slow (and may lend its seat), None if none will."""
        if not self._spares:
            return None
        young = [started + self._slow_after - now for started in self._running.values()]
        waits = [wait for wait in young if wait > 0]
        return min(waits) if waits else None

    async def _take_seat(self, job: object) -> None:
        async with self._changed:
            while not self._has_seat(time.monotonic()):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), self._next_change(time.monotonic()))
            self._running[job] = time.monotonic()

    # --- processes ---------------------------------------------------------------------------

    async def _spawn(self) -> _Process:
        return await _Process.start(self._command, timeout=self._start_timeout)

    def _give_back(self, process: _Process) -> None:
        if self._closed or len(self._idle) >= self._processes:
            self._background_task(process.close(timeout=5.0))  # a spare that is no longer needed
        else:
            self._idle.append(process)

    def _replenish(self) -> None:
        """Start a process in the background for one that was killed, so the next job need not wait."""
        if self._closed or len(self._idle) + len(self._running) > self._processes:
            return

        async def spawn() -> None:
            try:
                process = await self._spawn()
            except Exception:  # the next job starts one itself
                log.exception("could not start a kernel process")
                return
            self._give_back(process)

        self._background_task(spawn())

    def _background_task(self, work: Coroutine[object, object, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self, timeout: float = 10.0) -> None:
        """End the idle processes (their stdin closes) and wait for what runs in the background."""
        self._closed = True
        idle, self._idle = self._idle, []
        await asyncio.gather(*(process.close(timeout) for process in idle), return_exceptions=True)
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
