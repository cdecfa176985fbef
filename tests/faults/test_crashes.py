"""A service process killed (SIGKILL, a crash) in the middle of its work: the bridge during deletes,
a resize kernel process and the resize worker itself mid-job. Nothing is lost or half-written, and
no other service restarts."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from devstack.photos import jpeg_bytes
from tests.faults.client import Uploaded
from tests.faults.harness import FaultStack
from tests.faults.scenarios import Deletes, during_deletes

WIDTHS = (2500, 1500, 1000)


@pytest.mark.long_fault
@pytest.mark.timeout(900)
def test_bridge_killed_during_deletes(fstack: FaultStack, report: Any) -> None:
    files = fstack.seed(60)
    deletes = Deletes(fstack, files, rate=4)

    def crash() -> None:
        fstack.kill("bridge")
        time.sleep(5)
        fstack.restart("bridge")

    during_deletes(deletes, crash, after=15)
    counts = fstack.settled(timeout=180)
    report(
        fault="bridge killed (SIGKILL) during 60 deletes, started again 5 s later",
        deletes=deletes.done,
        **counts.figures(),
        details=counts.details,
    )
    assert deletes.done == len(files)
    assert counts.figures() == dict.fromkeys(counts.figures(), 0), counts.details


def _cpu(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return -1


def _busy_child(stack: FaultStack, timeout: float = 60.0) -> int | None:
    """A resize kernel process that is using the CPU now (so it holds a job)."""
    deadline = time.monotonic() + timeout
    before = {pid: _cpu(pid) for pid in stack.children("resize")}
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = {pid: _cpu(pid) for pid in stack.children("resize")}
        for pid, cpu in now.items():
            if pid in before and cpu > before[pid] >= 0:
                return pid
        before = now
    return None


def _big_originals(stack: FaultStack, count: int) -> list[Uploaded]:
    files = []
    with stack.clients(1) as (client,):
        for i in range(count):
            file, failures = client.upload(
                f"big {i}.jpg", "image/jpeg", jpeg_bytes(4000, 3000, seed=300 + i), deadline=time.monotonic() + 120
            )
            assert file is not None, failures
            stack.ledger.add_upload(file)
            files.append(file)
    return files


def _widths_under(stack: FaultStack, files: list[Uploaded], crash: Any) -> dict[str, Any]:
    """Ask for every width of every file from 6 clients (each request tried again until it is
    served, bounded); ``crash()`` once a kernel process is busy. Returns what the clients saw."""
    jobs = [(f, w) for f in files for w in WIDTHS]
    statuses: dict[str, int] = {}
    lock = threading.Lock()

    def fetch(job: tuple[Uploaded, int]) -> bool:
        file, width = job
        client = stack.client()
        try:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                got = client.download(file.key, width)
                with lock:
                    statuses[got.kind] = statuses.get(got.kind, 0) + 1
                if got.ok:
                    return True
                time.sleep(1.0)
            return False
        finally:
            client.close()

    with ThreadPoolExecutor(6) as pool:
        running = [pool.submit(fetch, job) for job in jobs]
        crashed = crash()
        served = sum(f.result() for f in running)
    return {"requests": len(jobs), "served": served, "answers": statuses, "crashed": crashed}


@pytest.mark.long_fault
def test_a_resize_kernel_process_killed_mid_job(fstack: FaultStack, report: Any) -> None:
    files = _big_originals(fstack, 4)

    def crash() -> int | None:
        pid = _busy_child(fstack)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
        return pid

    seen = _widths_under(fstack, files, crash)
    counts = fstack.settled(timeout=60)
    report(fault="a resize kernel process killed (SIGKILL) mid-job", **seen, **counts.figures(), details=counts.details)
    assert seen["crashed"] is not None, "no kernel process was seen busy"
    assert seen["served"] == seen["requests"], seen
    assert counts.details["variants_checked"] == len(files) * len(WIDTHS)
    assert counts.figures() == dict.fromkeys(counts.figures(), 0), counts.details


@pytest.mark.long_fault
def test_the_resize_worker_killed_mid_job(fstack: FaultStack, report: Any) -> None:
    files = _big_originals(fstack, 4)

    def crash() -> int | None:
        pid = _busy_child(fstack)
        if pid is None:
            return None
        fstack.kill("resize")
        time.sleep(3)
        fstack.restart("resize")
        return pid

    seen = _widths_under(fstack, files, crash)
    counts = fstack.settled(timeout=60)
    report(
        fault="the resize worker killed (SIGKILL) mid-job, started again 3 s later",
        **seen,
        **counts.figures(),
        details=counts.details,
    )
    assert seen["crashed"] is not None, "no kernel process was seen busy"
    assert seen["served"] == seen["requests"], seen
    assert counts.details["variants_checked"] == len(files) * len(WIDTHS)
    assert counts.figures() == dict.fromkeys(counts.figures(), 0), counts.details
