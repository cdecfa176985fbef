"""SeaweedFS (S3 and the filer whose log the bridge reads) stopped under load: uploads, new widths
and deletes from several clients. Requests that need S3 fail while it is down (the clients try
again); once it is back, everything a client was told had succeeded has its effect: uploads ready,
deleted files without variants, no record stuck, no variant half-written, no service restarted."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from typing import Any

import pytest

from tests.faults.harness import FaultStack
from tests.faults.scenarios import Uploads


class Mixer:
    """New widths and deletes of the files uploaded so far, from one client, until stopped."""

    def __init__(self, stack: FaultStack) -> None:
        self.stack = stack
        self.stop = threading.Event()
        self.answers: Counter[str] = Counter()
        self.thread = threading.Thread(target=self._run, name="mixer")

    def _run(self) -> None:
        rng = random.Random(5)
        client = self.stack.client("mixer")
        try:
            while not self.stop.is_set():
                live = self.stack.ledger.live()
                if not live:
                    time.sleep(0.2)
                    continue
                file = rng.choice(live)
                if rng.random() < 0.3:
                    result = client.delete_file(file.id)
                    if result.ok:
                        self.stack.ledger.add_delete(file)
                    self.answers[f"delete {result.kind}"] += 1
                else:
                    result = client.download(file.key, rng.choice((100, 300, 500)))
                    self.answers[f"width {result.kind}"] += 1
                time.sleep(0.2)
        finally:
            client.close()


def storage_outage(stack: FaultStack, report: Any, seconds: float) -> None:
    stack.seed(10)
    uploads = Uploads(stack, clients=2)
    mixer = Mixer(stack)
    uploads.start()
    mixer.thread.start()
    time.sleep(10)
    stopped = time.monotonic()
    stack.private.seaweed.stop()
    time.sleep(seconds)
    stack.private.seaweed.start()
    back = time.monotonic()
    time.sleep(20)
    mixer.stop.set()
    mixer.thread.join(timeout=120)
    uploads.finish()
    stack.ready(timeout=120)
    counts = stack.settled(timeout=240)
    report(
        fault=f"SeaweedFS stopped {seconds:.0f} s under load (2 uploaders, widths and deletes)",
        unreachable_seconds=round(back - stopped, 1),
        uploads=uploads.count,
        upload_failed_tries=dict(uploads.failures),
        mixer_answers=dict(mixer.answers),
        **counts.figures(),
        details=counts.details,
    )
    assert counts.figures() == dict.fromkeys(counts.figures(), 0), counts.details


@pytest.mark.long_fault
@pytest.mark.timeout(900)
def test_storage_stopped_30_seconds_under_load(fstack: FaultStack, report: Any) -> None:
    storage_outage(fstack, report, 30)


@pytest.mark.long_fault
@pytest.mark.timeout(900)
def test_storage_stopped_2_minutes_under_load(fstack: FaultStack, report: Any) -> None:
    storage_outage(fstack, report, 120)
