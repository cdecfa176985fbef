"""The metadata-log source against a stand-in ``weed`` (a script): publish, then checkpoint; replay
skipping; retries; restarts. No broker needed: the publisher is a recording double."""

from __future__ import annotations

import asyncio
import json
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from services.bridge.checkpoint import CheckpointFile
from services.bridge.meta_source import MetaTailSource, TailConfig
from services.bridge.metrics import Metrics
from shared.errors import Unavailable
from shared.events import ObjectEvent
from tests.support.waiting import eventually

S = 1_000_000_000
NOW = 1_795_556_000 * S
BUCKET = "files"


def record(ts: int, directory: str, name: str, *, removed: bool = False, is_dir: bool = False) -> dict[str, Any]:
    entry = {"name": name, "isDirectory": is_dir, "attributes": {"fileSize": "3"}}
    return {
        "directory": directory,
        "eventNotification": {
            "oldEntry": entry if removed else None,
            "newEntry": None if removed else entry,
            "newParentPath": "" if removed else directory,
        },
        "tsNs": str(ts),
    }


def fake_weed(tmp_path: Path, records: list[dict[str, Any]], *, linger: float) -> Path:
    """A script that logs its arguments, prints the records as the tail does, then lingers."""
    output = "".join(json.dumps(r, indent=2) + "\n" for r in records)
    (tmp_path / "records.txt").write_text("tail says hello\n" + output)
    script = tmp_path / "weed"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys, time, pathlib\n"
        "here = pathlib.Path(__file__).parent\n"
        "with open(here / 'calls.jsonl', 'a') as f: f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "sys.stdout.write((here / 'records.txt').read_text()); sys.stdout.flush()\n"
        f"time.sleep({linger})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def calls(tmp_path: Path) -> list[list[str]]:
    path = tmp_path / "calls.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


class RecordingPublisher:
    def __init__(self, failures: int = 0) -> None:
        self.events: list[ObjectEvent] = []
        self.dead_letters: list[tuple[bytes, str]] = []
        self.attempts = 0
        self._failures = failures

    async def publish(self, events: Sequence[ObjectEvent], *, correlation_id: str | None) -> None:
        self.attempts += 1
        if self._failures > 0:
            self._failures -= 1
            raise Unavailable("broker down")
        self.events.extend(events)

    async def dead_letter(self, body: bytes, *, reason: str, source: str) -> bool:
        self.dead_letters.append((body, reason))
        return True


def make_source(
    tmp_path: Path, publisher: RecordingPublisher, script: Path, **config: Any
) -> tuple[MetaTailSource, CheckpointFile, Metrics]:
    checkpoint = CheckpointFile(tmp_path / "checkpoint")
    metrics = Metrics()
    source = MetaTailSource(
        TailConfig(
            weed_binary=str(script),
            filer="127.0.0.1:1.2",
            bucket=BUCKET,
            backoff_initial=0.05,
            backoff_max=0.2,
            **config,
        ),
        publisher=publisher,
        checkpoint=checkpoint,
        metrics=metrics,
        clock_ns=lambda: NOW,
    )
    return source, checkpoint, metrics


RECORDS = [
    record(NOW - 3 * S, "/buckets/files/abc", "old.jpg", removed=True),  # before the checkpoint
    record(NOW + 1 * S, "/buckets/files/abc", "a.jpg"),
    record(NOW + 2 * S, "/buckets/files", "abc", is_dir=True),  # dropped, still moves the position
    record(NOW + 3 * S, "/buckets/files/abc", "a.jpg", removed=True),
    record(NOW + 4 * S, "/buckets/files/variants/abc/a.jpg", "w100.jpg"),  # dropped
]


async def test_publishes_new_records_then_checkpoints(tmp_path: Path) -> None:
    publisher = RecordingPublisher()
    source, checkpoint, _ = make_source(tmp_path, publisher, fake_weed(tmp_path, RECORDS, linger=30))
    checkpoint.save(NOW - 1 * S)
    await source.start()
    try:
        await eventually(lambda: source.position == NOW + 4 * S, timeout=10)
        await source.check()  # the tail is running
    finally:
        await source.stop()
    assert [(e.type, e.key) for e in publisher.events] == [
        ("object.created", "abc/a.jpg"),
        ("object.removed", "abc/a.jpg"),
    ]
    assert checkpoint.load() == NOW + 4 * S
    [argv] = calls(tmp_path)
    assert argv[:3] == ["filer.meta.tail", "-filer=127.0.0.1:1.2", "-pathPrefix=/buckets/files"]
    assert argv[3] == f"-timeAgo={6 * S // 1000}us"  # 1 s behind + the default 5 s margin


async def test_first_start_without_checkpoint_starts_now_and_saves_it(tmp_path: Path) -> None:
    publisher = RecordingPublisher()
    source, checkpoint, _ = make_source(tmp_path, publisher, fake_weed(tmp_path, [], linger=30))
    await source.start()
    try:
        assert checkpoint.load() == NOW
    finally:
        await source.stop()


async def test_checkpoint_waits_for_the_broker(tmp_path: Path) -> None:
    publisher = RecordingPublisher(failures=3)
    records = [record(NOW + 1 * S, "/buckets/files/abc", "a.jpg", removed=True)]
    source, checkpoint, _ = make_source(tmp_path, publisher, fake_weed(tmp_path, records, linger=30))
    checkpoint.save(NOW)
    await source.start()
    try:
        await eventually(lambda: publisher.attempts >= 2, timeout=10)
        assert checkpoint.load() == NOW  # not confirmed yet: the position has not moved
        await eventually(lambda: len(publisher.events) == 1, timeout=10)
        await eventually(lambda: checkpoint.load() == NOW + 1 * S, timeout=10)
    finally:
        await source.stop()
    assert publisher.attempts == 4
    assert [(e.type, e.key) for e in publisher.events] == [("object.removed", "abc/a.jpg")]


async def test_a_record_unconfirmed_at_stop_is_read_again_next_time(tmp_path: Path) -> None:
    publisher = RecordingPublisher(failures=1_000_000)
    records = [record(NOW + 1 * S, "/buckets/files/abc", "a.jpg", removed=True)]
    source, checkpoint, _ = make_source(tmp_path, publisher, fake_weed(tmp_path, records, linger=30))
    checkpoint.save(NOW)
    await source.start()
    await eventually(lambda: publisher.attempts >= 2, timeout=10)
    await source.stop()
    attempts = publisher.attempts
    await asyncio.sleep(0.3)
    assert publisher.attempts == attempts and publisher.events == []  # no retry after the stop
    assert checkpoint.load() == NOW  # unconfirmed: the next start reads the record again


async def test_tail_is_restarted_from_the_checkpoint_and_replays_nothing_twice(tmp_path: Path) -> None:
    publisher = RecordingPublisher()
    records = [record(NOW - 2 * S, "/buckets/files/abc", "a.jpg", removed=True)]
    source, checkpoint, metrics = make_source(tmp_path, publisher, fake_weed(tmp_path, records, linger=0))
    checkpoint.save(NOW - 3 * S)
    await source.start()
    try:
        await eventually(lambda: len(calls(tmp_path)) >= 3, timeout=10)
    finally:
        await source.stop()
    # every run printed the same record; only the first publication happened
    assert [(e.type, e.key) for e in publisher.events] == [("object.removed", "abc/a.jpg")]
    first, second = calls(tmp_path)[:2]
    assert first[3] == f"-timeAgo={8 * S // 1000}us"  # 3 s behind + the 5 s margin
    assert second[3] == f"-timeAgo={7 * S // 1000}us"  # the checkpoint moved 1 s on
    assert metrics.tail_restarts._value.get() >= 2


async def test_malformed_records_are_dead_lettered_and_the_log_goes_on(tmp_path: Path) -> None:
    broken = record(NOW + 1 * S, "/buckets/files/abc", "a.jpg")
    broken["eventNotification"]["newEntry"]["attributes"] = "not an object"
    records = [broken, record(NOW + 2 * S, "/buckets/files/abc", "b.jpg")]
    publisher = RecordingPublisher()
    source, checkpoint, _ = make_source(tmp_path, publisher, fake_weed(tmp_path, records, linger=30))
    checkpoint.save(NOW)
    await source.start()
    try:
        await eventually(lambda: source.position == NOW + 2 * S, timeout=10)
    finally:
        await source.stop()
    assert [(e.type, e.key) for e in publisher.events] == [("object.created", "abc/b.jpg")]
    [(body, reason)] = publisher.dead_letters
    assert json.loads(body)["tsNs"] == str(NOW + 1 * S) and "attributes" in reason


class ExplodingPublisher(RecordingPublisher):
    """Fails in a way nobody planned for on one key: the bridge must not stop there for ever."""

    async def publish(self, events: Sequence[ObjectEvent], *, correlation_id: str | None) -> None:
        if any(e.key.endswith("boom.jpg") for e in events):
            raise RuntimeError("unexpected")
        await super().publish(events, correlation_id=correlation_id)


async def test_a_record_that_breaks_handling_is_dead_lettered_and_the_log_goes_on(tmp_path: Path) -> None:
    records = [
        record(NOW + 1 * S, "/buckets/files/abc", "boom.jpg"),
        record(NOW + 2 * S, "/buckets/files/abc", "b.jpg"),
    ]
    publisher = ExplodingPublisher()
    source, checkpoint, _ = make_source(tmp_path, publisher, fake_weed(tmp_path, records, linger=30))
    checkpoint.save(NOW)
    await source.start()
    try:
        await eventually(lambda: source.position == NOW + 2 * S, timeout=10)
        await source.check()
    finally:
        await source.stop()
    assert [(e.type, e.key) for e in publisher.events] == [("object.created", "abc/b.jpg")]
    [(body, reason)] = publisher.dead_letters
    assert json.loads(body)["tsNs"] == str(NOW + 1 * S) and "unexpected" in reason
    assert checkpoint.load() == NOW + 2 * S


async def test_a_record_that_reaches_the_log_late_is_published_and_a_restart_publishes_nothing_twice(
    tmp_path: Path,
) -> None:
    """The filer stamps a change before it logs it: in a burst of deletes, a record can follow one
    with a higher tsNs. It is a deletion all the same, and its variants must go."""
    records = [
        record(NOW + 2 * S, "/buckets/files/abc", "a.jpg", removed=True),
        record(NOW + 2 * S - 1_000_000, "/buckets/files/def", "b.jpg", removed=True),  # 1 ms older, logged later
    ]
    publisher = RecordingPublisher()
    source, checkpoint, _ = make_source(tmp_path, publisher, fake_weed(tmp_path, records, linger=30))
    checkpoint.save(NOW)
    await source.start()
    try:
        await eventually(lambda: len(publisher.events) == 2, timeout=10)
    finally:
        await source.stop()
    assert [(e.type, e.key) for e in publisher.events] == [
        ("object.removed", "abc/a.jpg"),
        ("object.removed", "def/b.jpg"),
    ]
    assert checkpoint.load() == NOW + 2 * S  # the late record does not move the position back

    # The bridge starts again from that checkpoint (its tail replays the margin): both were handled.
    again = RecordingPublisher()
    source, _, metrics = make_source(tmp_path, again, fake_weed(tmp_path, records, linger=30))
    await source.start()
    try:
        await eventually(
            lambda: metrics.records.labels(source="seaweedfs-meta", outcome="replayed")._value.get() == 2, timeout=10
        )
    finally:
        await source.stop()
    assert again.events == []
