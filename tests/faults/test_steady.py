"""Under steady load nothing fails and nothing grows; and how long a deletion takes to clean up.

- The soak: several clients upload, download, ask for new widths and delete for a bounded few
  minutes (``SOAK_SECONDS``, default 180). Every request must succeed; the latencies per kind and
  the resident memory of every service (and of the resize kernel processes) at the start (after a
  warm-up) and the end go to the figures; no process may grow by more than ``GROWTH_BOUND``.
- Delete to clean: 250 files with two variants each, deleted at 50 a second; the time from each
  ``deleteFile`` call to the moment its last variant is gone from S3 (p50/p99).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from devstack.photos import jpeg_bytes
from shared.keys import parse_original_key, variant_key
from tests.faults.harness import FaultStack, percentile
from tests.faults.scenarios import Deletes

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "180"))
WARM_UP = 30.0
WIDTHS = (100, 300, 500, 750, 1000)
MiB = 1024 * 1024


def growth_bound(start: int) -> int:
    """What a process may add between the start and the end of the soak: half its size, at least
    64 MiB (the download service's cache alone may fill 64 MiB, ``CACHE_BYTES``)."""
    return max(64 * MiB, start // 2)


def _memory(stack: FaultStack) -> dict[str, int]:
    """RSS per service, the resize kernel processes summed (they are replaced after a timeout)."""
    sizes = stack.rss()
    merged: dict[str, int] = defaultdict(int)
    for name, size in sizes.items():
        merged["resize kernels" if " child " in name else name] += size
    return dict(merged)


@pytest.mark.long_fault
@pytest.mark.timeout(int(SOAK_SECONDS) + 600)
def test_soak_mixed_load(fstack: FaultStack, report: Any) -> None:
    seeded = fstack.seed(8)
    latencies: dict[str, list[float]] = defaultdict(list)
    failures: list[str] = []
    made: dict[str, set[int]] = defaultdict(set)
    lock = threading.Lock()
    end = time.monotonic() + SOAK_SECONDS

    def client_loop(n: int) -> None:
        rng = random.Random(n)
        client = fstack.client(f"soak-{n}")
        # Each client works on its own files: a width asked for while another client deletes the
        # file would race the deletion (see docs/RELIABILITY.md), which is not what this measures.
        live = seeded[n::4]
        i = 0
        try:
            while time.monotonic() < end:
                roll = rng.random()
                if roll < 0.2 or len(live) < 4:
                    started = time.monotonic()
                    content = jpeg_bytes(rng.choice((320, 640, 1024)), 480, seed=n * 100_000 + i)
                    file, failed = client.upload(f"soak {n}-{i}.jpg", "image/jpeg", content, deadline=0)
                    kind, ok = "upload", file is not None
                    if file is not None:
                        fstack.ledger.add_upload(file)
                        live.append(file)
                    detail = ",".join(failed)
                    seconds = time.monotonic() - started
                elif roll < 0.55:
                    got = client.download(rng.choice(live).key)
                    kind, ok, detail, seconds = "download", got.ok, got.kind, got.seconds
                elif roll < 0.85:
                    file = rng.choice(live)
                    with lock:
                        left = [w for w in WIDTHS if w not in made[file.id]]
                        width = rng.choice(left) if left else rng.choice(WIDTHS)
                        made[file.id].add(width)
                    got = client.download(file.key, width)
                    kind = "new width" if left else "width (stored)"
                    ok, detail, seconds = got.ok, got.kind, got.seconds
                else:
                    file = live.pop(rng.randrange(len(live)))
                    fstack.ledger.add_delete(file)
                    got = client.delete_file(file.id)
                    kind, ok, detail, seconds = "delete", got.ok, got.kind, got.seconds
                with lock:
                    latencies[kind].append(seconds)
                    if not ok:
                        failures.append(f"{kind}: {detail}")
                i += 1
        finally:
            client.close()

    with ThreadPoolExecutor(4) as pool:
        running = [pool.submit(client_loop, n) for n in range(4)]
        time.sleep(min(WARM_UP, SOAK_SECONDS / 4))
        memory_start = _memory(fstack)
        for future in running:
            future.result()
    memory_end = _memory(fstack)
    counts = fstack.settled(timeout=120)
    figures = {
        kind: {
            "count": len(values),
            "p50_ms": round(percentile(values, 50) * 1000, 1),
            "p99_ms": round(percentile(values, 99) * 1000, 1),
        }
        for kind, values in sorted(latencies.items())
    }
    memory = {
        name: {"start_mib": round(memory_start.get(name, 0) / MiB, 1), "end_mib": round(size / MiB, 1)}
        for name, size in memory_end.items()
    }
    report(
        fault=f"soak: 4 clients, mixed load for {SOAK_SECONDS:.0f} s",
        requests=sum(len(v) for v in latencies.values()),
        failed=len(failures),
        failures=failures[:20],
        latencies=figures,
        memory=memory,
        **counts.figures(),
        details=counts.details,
    )
    assert failures == []
    grown = {
        name: sizes
        for name, sizes in memory.items()
        if (sizes["end_mib"] - sizes["start_mib"]) * MiB > growth_bound(int(sizes["start_mib"] * MiB))
    }
    assert grown == {}, grown
    assert counts.figures() == dict.fromkeys(counts.figures(), 0), counts.details


@pytest.mark.long_fault
@pytest.mark.timeout(900)
def test_delete_to_clean_at_50_deletes_a_second(fstack: FaultStack, report: Any) -> None:
    files = fstack.seed(250, width=None, threads=8, size=(160, 120))
    variant = jpeg_bytes(100, 75, seed=9)
    s3, bucket = fstack.running.s3, fstack.running.bucket

    def add_variants(i: int) -> None:
        file = files[i]
        for width in (100, 300):
            key = str(variant_key(parse_original_key(file.key), width, "jpg"))
            s3.put_object(Bucket=bucket, Key=key, Body=variant, ContentType="image/jpeg")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(add_variants, range(len(files))))
    assert len(fstack.object_keys("variants/")) == 2 * len(files)

    # Enough clients that a slow call (on a loaded machine) does not hold the rate down.
    deletes = Deletes(fstack, files, rate=50, threads=32)
    gone: dict[str, float] = {}
    stop = threading.Event()

    def watch() -> None:
        """List variants/ over and over; note when each deleted file's last variant is gone."""
        while not stop.is_set():
            listed_at = time.monotonic()
            present = {k.split("/")[1] for k in fstack.object_keys("variants/")}
            for file_id in list(deletes.started):
                if file_id not in present and file_id not in gone:
                    gone[file_id] = listed_at
            if len(gone) == len(files):
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, name="watch")
    watcher.start()
    began = time.monotonic()
    deletes.run()
    calls_took = time.monotonic() - began
    limit = time.monotonic() + 180
    while len(gone) < len(files) and time.monotonic() < limit:
        time.sleep(0.2)
    stop.set()
    watcher.join(timeout=30)
    seconds = [gone[i] - deletes.started[i] for i in gone]
    after_answer = [gone[i] - deletes.answered[i] for i in gone]
    counts = fstack.settled(timeout=60)
    report(
        fault="delete to clean: 250 files with 2 variants each, deleteFile at 50 a second",
        deletes=deletes.done,
        achieved_rate=round(deletes.done / calls_took, 1),
        cleaned=len(gone),
        p50_s=round(percentile(seconds, 50), 2),
        p99_s=round(percentile(seconds, 99), 2),
        max_s=round(max(seconds, default=0), 2),
        after_answer_p50_s=round(percentile(after_answer, 50), 2),
        after_answer_p99_s=round(percentile(after_answer, 99), 2),
        **counts.figures(),
        details=counts.details,
    )
    assert deletes.done == len(files) and len(gone) == len(files)
    assert counts.figures() == dict.fromkeys(counts.figures(), 0), counts.details
