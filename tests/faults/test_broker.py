"""RabbitMQ stopped while files are deleted (and, for the long outage, uploaded): every deletion
still removes every variant, every upload still becomes ready, and no service restarts.

``deleteFile`` needs only the database and S3, so it goes on during the outage; the removal events
come from the filer's log through the bridge, which must hold them until the broker is back."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.faults.harness import FaultStack
from tests.faults.scenarios import Deletes, Uploads, during_deletes


def broker_outage(stack: FaultStack, report: Any, *, seconds: float, files: int, rate: float, uploads: bool) -> None:
    seeded = stack.seed(files)
    deletes = Deletes(stack, seeded, rate=rate)
    uploading = Uploads(stack, clients=2)
    timing: dict[str, float] = {}

    def outage() -> None:
        if uploads:
            uploading.start()
        timing["stop"] = time.monotonic()
        stack.private.rabbit.stop()
        timing["stopped"] = time.monotonic()
        time.sleep(seconds)
        timing["start"] = time.monotonic()
        stack.private.rabbit.start()
        timing["started"] = time.monotonic()

    during_deletes(deletes, outage, after=files // 5)
    if uploads:
        time.sleep(10)
        uploading.finish()
    stack.ready(timeout=120)
    counts = stack.settled(timeout=240)
    report(
        fault=f"RabbitMQ stopped {seconds:.0f} s during {files} deletes" + (" and uploads" if uploads else ""),
        down_seconds=round(timing["start"] - timing["stopped"], 1),
        unreachable_seconds=round(timing["started"] - timing["stop"], 1),
        deletes=deletes.done,
        delete_failures=dict(deletes.failures),
        uploads=uploading.count,
        upload_failed_tries=dict(uploading.failures),
        **counts.figures(),
        details=counts.details,
    )
    assert deletes.done == files, deletes.failures
    assert counts.figures() == dict.fromkeys(counts.figures(), 0), counts.details


@pytest.mark.long_fault
@pytest.mark.timeout(900)
def test_broker_stopped_16_seconds_during_200_deletes(fstack: FaultStack, report: Any) -> None:
    broker_outage(fstack, report, seconds=16, files=200, rate=8, uploads=False)


@pytest.mark.long_fault
@pytest.mark.timeout(900)
def test_broker_stopped_2_minutes_during_deletes_and_uploads(fstack: FaultStack, report: Any) -> None:
    broker_outage(fstack, report, seconds=120, files=60, rate=0.5, uploads=True)
