"""The SQS source against an in-memory queue that answers as boto3's SQS client does: a message is
deleted only after its events were confirmed (or it was parked in bridge.dead); otherwise SQS shows
it again. No SQS server exists here, so the real-SQS path is not exercised (docs/deploy.md)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import pytest

from services.bridge.metrics import Metrics
from services.bridge.settings import BridgeSettings
from services.bridge.sqs_source import SqsConfig, SqsSource
from shared.errors import Unavailable
from shared.events import ObjectEvent
from tests.support.sqs import QUEUE_URL, MemorySqs
from tests.support.waiting import eventually

BUCKET = "files"


class RecordingPublisher:
    def __init__(self, *, failures: int = 0, dead_letter_works: bool = True) -> None:
        self.events: list[ObjectEvent] = []
        self.dead_letters: list[tuple[bytes, str, str]] = []
        self.attempts = 0
        self._failures = failures
        self._dead_letter_works = dead_letter_works

    async def publish(self, events: Sequence[ObjectEvent], *, correlation_id: str | None) -> None:
        self.attempts += 1
        if self._failures > 0:
            self._failures -= 1
            raise Unavailable("broker down")
        self.events.extend(events)

    async def dead_letter(self, body: bytes, *, reason: str, source: str) -> bool:
        if not self._dead_letter_works:
            return False
        self.dead_letters.append((body, reason, source))
        return True


def s3_event(name: str, key: str, *, bucket: str = BUCKET) -> str:
    record = {
        "eventName": name,
        "eventTime": "2026-11-24T20:00:00.000Z",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 3, "eTag": "abc", "sequencer": "0A1"}},
    }
    return json.dumps({"Records": [record]})


def source_for(sqs: MemorySqs, publisher: RecordingPublisher) -> tuple[SqsSource, Metrics]:
    metrics = Metrics()
    config = SqsConfig(QUEUE_URL, BUCKET, wait_seconds=1, backoff_initial=0.01, backoff_max=0.05)
    return SqsSource(sqs, config, publisher=publisher, metrics=metrics), metrics


async def test_publishes_then_deletes_each_message() -> None:
    sqs, publisher = MemorySqs(), RecordingPublisher()
    sqs.send(s3_event("ObjectCreated:Put", "abc/photo+1.jpg"))
    sqs.send(s3_event("ObjectRemoved:Delete", "abc/photo+1.jpg"))
    source, _ = source_for(sqs, publisher)
    await source.start()
    try:
        await eventually(lambda: not sqs.messages, timeout=5)
        await source.check()
    finally:
        await source.stop()
    assert [(e.type, e.key, e.source) for e in publisher.events] == [
        ("object.created", "abc/photo 1.jpg", "s3"),
        ("object.removed", "abc/photo 1.jpg", "s3"),
    ]
    assert sqs.receive_calls[0]["QueueUrl"] == QUEUE_URL
    assert sqs.receive_calls[0]["MaxNumberOfMessages"] == 10


async def test_sns_wrapped_notifications_are_unwrapped() -> None:
    sqs, publisher = MemorySqs(), RecordingPublisher()
    sqs.send(json.dumps({"Type": "Notification", "Message": s3_event("ObjectRemoved:Delete", "abc/a.png")}))
    source, _ = source_for(sqs, publisher)
    [message] = sqs.receive_message(QueueUrl=QUEUE_URL, MaxNumberOfMessages=10)["Messages"]
    assert await source.handle(message) is True
    assert [(e.type, e.key) for e in publisher.events] == [("object.removed", "abc/a.png")]
    assert sqs.messages == []


async def test_publication_is_retried_until_the_broker_confirms_and_nothing_else_is_received() -> None:
    sqs, publisher = MemorySqs(), RecordingPublisher(failures=3)
    sqs.send(s3_event("ObjectRemoved:Delete", "abc/a.jpg"))
    sqs.send(s3_event("ObjectRemoved:Delete", "abc/b.jpg"))
    source, _ = source_for(sqs, publisher)
    [first, _second] = sqs.receive_message(QueueUrl=QUEUE_URL, MaxNumberOfMessages=10)["Messages"]
    receives = len(sqs.receive_calls)
    assert await source.handle(first) is True
    assert publisher.attempts == 4 and [e.key for e in publisher.events] == ["abc/a.jpg"]
    assert [m.body for m in sqs.messages] == [s3_event("ObjectRemoved:Delete", "abc/b.jpg")]
    assert len(sqs.receive_calls) == receives


async def test_a_message_unconfirmed_at_stop_stays_in_sqs() -> None:
    sqs, publisher = MemorySqs(), RecordingPublisher(failures=1_000_000)
    sqs.send(s3_event("ObjectRemoved:Delete", "abc/a.jpg"))
    source, _ = source_for(sqs, publisher)
    await source.start()
    await eventually(lambda: publisher.attempts >= 2, timeout=5)
    await source.stop()
    assert publisher.events == [] and len(sqs.messages) == 1
    sqs.expire_visibility()  # SQS shows it again to the next bridge
    publisher = RecordingPublisher()
    source, _ = source_for(sqs, publisher)
    [again] = sqs.receive_message(QueueUrl=QUEUE_URL, MaxNumberOfMessages=10)["Messages"]
    assert await source.handle(again) is True
    assert sqs.messages == [] and [e.key for e in publisher.events] == ["abc/a.jpg"]


@pytest.mark.parametrize("body", ["not json", "[1, 2]", json.dumps({"Records": "nope"}), ""])
async def test_a_body_that_is_no_notification_is_parked_then_deleted(body: str) -> None:
    sqs, publisher = MemorySqs(), RecordingPublisher()
    sqs.send(body)
    source, metrics = source_for(sqs, publisher)
    [message] = sqs.receive_message(QueueUrl=QUEUE_URL, MaxNumberOfMessages=10)["Messages"]
    assert await source.handle(message) is True
    assert sqs.messages == []
    assert [(b, s) for b, _, s in publisher.dead_letters] == [(body.encode(), "sqs")]
    assert metrics.records.labels(source="sqs", outcome="malformed")._value.get() == 1


async def test_a_malformed_body_stays_in_sqs_when_it_cannot_be_parked() -> None:
    sqs, publisher = MemorySqs(), RecordingPublisher(dead_letter_works=False)
    sqs.send("not json")
    source, _ = source_for(sqs, publisher)
    [message] = sqs.receive_message(QueueUrl=QUEUE_URL, MaxNumberOfMessages=10)["Messages"]
    assert await source.handle(message) is False
    assert len(sqs.messages) == 1


async def test_test_events_variants_and_other_buckets_are_deleted_without_publishing() -> None:
    sqs, publisher = MemorySqs(), RecordingPublisher()
    sqs.send(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}))
    sqs.send(s3_event("ObjectCreated:Put", "variants/abc/a.jpg/w300.jpg"))
    sqs.send(s3_event("ObjectCreated:Put", "abc/a.jpg", bucket="other"))
    source, _ = source_for(sqs, publisher)
    for message in sqs.receive_message(QueueUrl=QUEUE_URL, MaxNumberOfMessages=10)["Messages"]:
        assert await source.handle(message) is True
    assert sqs.messages == [] and publisher.events == [] and publisher.dead_letters == []


async def test_receive_failures_are_retried_and_reported_by_readiness() -> None:
    sqs, publisher = MemorySqs(), RecordingPublisher()
    sqs.fail_receives = 1000
    sqs.send(s3_event("ObjectCreated:Put", "abc/a.jpg"))
    source, _ = source_for(sqs, publisher)
    await source.start()
    try:
        await eventually(lambda: len(sqs.receive_calls) >= 3, timeout=5)
        with pytest.raises(Unavailable):
            await source.check()
        sqs.fail_receives = 0  # SQS answers again
        await eventually(lambda: not sqs.messages, timeout=5)
        await eventually(lambda: len(sqs.receive_calls) > 0 and sqs.fail_receives == 0, timeout=5)
        await source.check()
    finally:
        await source.stop()
    assert [e.key for e in publisher.events] == ["abc/a.jpg"]
    with pytest.raises(Unavailable):
        await source.check()  # stopped


async def test_a_failed_delete_only_means_the_message_comes_again() -> None:
    sqs, publisher = MemorySqs(), RecordingPublisher()
    sqs.send(s3_event("ObjectCreated:Put", "abc/a.jpg"))
    source, _ = source_for(sqs, publisher)
    [message] = sqs.receive_message(QueueUrl=QUEUE_URL, MaxNumberOfMessages=10)["Messages"]
    sqs.expire_visibility()  # the receipt handle is stale now: SQS refuses the delete
    assert await source.handle(message) is True
    assert len(sqs.messages) == 1 and [e.key for e in publisher.events] == ["abc/a.jpg"]


def test_the_sqs_source_needs_a_queue_url() -> None:
    with pytest.raises(ValueError, match="BRIDGE_SQS_QUEUE_URL"):
        BridgeSettings(bridge_source="sqs")
    assert BridgeSettings(bridge_source="sqs", bridge_sqs_queue_url=QUEUE_URL).bridge_sqs_wait_seconds == 20


async def test_stop_does_not_wait_for_a_long_poll() -> None:
    sqs, publisher = MemorySqs(), RecordingPublisher()
    config = SqsConfig(QUEUE_URL, BUCKET, wait_seconds=20)
    source = SqsSource(sqs, config, publisher=publisher, metrics=Metrics())
    await source.start()
    await eventually(lambda: len(sqs.receive_calls) == 1, timeout=5)  # the poll is waiting for a message
    loop = asyncio.get_running_loop()
    started = loop.time()
    await source.stop()
    assert loop.time() - started < 1.0
    sqs.send(s3_event("ObjectCreated:Put", "abc/late.jpg"))  # wakes the abandoned poll's thread
    await asyncio.sleep(0.05)
    assert publisher.events == []  # received by the abandoned poll: SQS shows it again later
    sqs.expire_visibility()
    assert len(sqs.messages) == 1
