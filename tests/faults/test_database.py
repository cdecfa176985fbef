"""PostgreSQL stopped while uploads continue: nothing the clients uploaded is lost from the catalog.

Before the outage ten payloads are issued (their records are ``pending``); during it those files
are posted to S3 (their ``object.created`` events reach the catalog while its database is down),
and three clients keep uploading new files, trying each step again after the ``Retry-After`` the
gateway sends. After the database returns, every file whose bytes reached S3 must be ``ready``,
no record stuck ``pending``, nothing dead-lettered, and the five services the same processes.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from devstack.photos import jpeg_bytes
from tests.faults.client import Uploaded
from tests.faults.harness import FaultStack


def database_outage(stack: FaultStack, seconds: float, report: Any) -> None:
    client = stack.client("before")
    issued = []
    for i in range(10):
        content = jpeg_bytes(320, 240, seed=1000 + i)
        result = client.payload(f"early {i}.jpg", "image/jpeg", len(content))
        assert result.ok, result
        issued.append((result.value, content))

    failures: Counter[str] = Counter()
    retry_after: set[str | None] = set()
    stop = threading.Event()
    outage_ends = time.monotonic() + seconds + 10_000  # set properly once it starts

    def uploader(n: int) -> int:
        """Uploads one file after another (each step retried) until told to stop."""
        c = stack.client(f"during-{n}")
        done = 0
        try:
            i = 0
            while not stop.is_set():
                content = jpeg_bytes(320, 240, seed=2000 + n * 1000 + i)
                file, failed = c.upload(f"during {n}-{i}.jpg", "image/jpeg", content, deadline=outage_ends + 120)
                failures.update(failed)
                if file is not None:
                    stack.ledger.add_upload(file)
                    done += 1
                i += 1
                time.sleep(0.5)
        finally:
            c.close()
        return done

    stack.private.postgres.stop()
    stopped_at = time.monotonic()
    outage_ends = stopped_at + seconds
    with ThreadPoolExecutor(3) as pool:
        running = [pool.submit(uploader, n) for n in range(3)]
        # The early files reach S3 while the database is down: their events must wait for it.
        for value, content in issued:
            file = value["file"]
            posted = client.post_form(value["data"], content, file["name"])
            assert posted.ok, posted
            stack.ledger.add_upload(Uploaded(file["id"], file["key"], file["name"], content))
        # What a caller is told meanwhile: a retryable error, with how long to wait.
        probe = client.payload("probe.jpg", "image/jpeg", 100)
        retry_after.add(probe.retry_after)
        time.sleep(max(0.0, outage_ends - time.monotonic()))
        stack.private.postgres.start()
        restarted_at = time.monotonic()
        time.sleep(15)  # uploads go on after the database is back
        stop.set()
        uploaded_during = sum(f.result() for f in running)
    client.close()

    counts = stack.settled(timeout=180)
    report(
        fault=f"PostgreSQL stopped {seconds:.0f} s while uploads continue",
        outage_seconds=round(restarted_at - stopped_at, 1),
        uploads=len(stack.ledger.uploaded),
        uploads_by_clients_during_and_after=uploaded_during,
        failed_tries_by_kind=dict(failures),
        probe={"ok": probe.ok, "status": probe.status, "code": probe.code, "retry_after": probe.retry_after},
        **counts.figures(),
        details=counts.details,
    )
    assert not probe.ok and probe.code and probe.code != "INTERNAL_ERROR", probe
    assert counts.figures() == dict.fromkeys(counts.figures(), 0), counts.details


def test_database_stopped_30_seconds_while_uploads_continue(fstack: FaultStack, report: Any) -> None:
    database_outage(fstack, 30, report)


@pytest.mark.long_fault
@pytest.mark.timeout(900)
def test_database_stopped_5_minutes_while_uploads_continue(fstack: FaultStack, report: Any) -> None:
    database_outage(fstack, 300, report)
