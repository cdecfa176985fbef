"""The wire formats every service relies on: normalized events, resize requests and replies."""

from __future__ import annotations

import json

import pytest

from shared.errors import NotAnImage, ResizeTimeout, TooManyPixels, error_from_code
from shared.events import MalformedEvent, ObjectEvent
from shared.messages import MalformedMessage, ResizeReply, ResizeRequest, variant_format

EVENT = ObjectEvent(
    type="object.removed",
    bucket="files",
    key="3f2a/photo one+x.jpg",
    size=None,
    etag=None,
    sequencer="0001",
    time="2026-11-24T20:00:00.000Z",
    source="seaweedfs",
)


def test_event_round_trips_in_the_design_shape() -> None:
    body = EVENT.to_json()
    assert set(json.loads(body)) == {"type", "bucket", "key", "size", "etag", "sequencer", "time", "source"}
    assert ObjectEvent.from_json(body) == EVENT
    assert EVENT.routing_key == "object.removed"


def test_the_same_change_keeps_its_message_id() -> None:
    assert ObjectEvent.from_json(EVENT.to_json()).message_id == EVENT.message_id


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"type": "object.exploded", "bucket": "files", "key": "k"}',
        b'{"type": "object.removed", "bucket": "files"}',
        b'{"type": "object.removed", "bucket": "", "key": "k"}',
        b'{"type": "object.removed", "bucket": "files", "key": "k", "size": "big"}',
        b'{"type": "object.removed", "bucket": "files", "key": "k", "size": true}',
        b'{"type": "object.removed", "bucket": "files", "key": 7}',
    ],
)
def test_malformed_events_are_refused(body: bytes) -> None:
    with pytest.raises(MalformedEvent):
        ObjectEvent.from_json(body)


def test_resize_request_round_trips() -> None:
    request = ResizeRequest(key="3f2a/p.jpg", width=300, format="jpeg")
    assert json.loads(request.to_json()) == {"key": "3f2a/p.jpg", "width": 300, "format": "jpeg"}
    assert ResizeRequest.from_json(request.to_json()) == request


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'{"key": "", "width": 300, "format": "jpeg"}',
        b'{"key": "k", "width": 0, "format": "jpeg"}',
        b'{"key": "k", "width": "300", "format": "jpeg"}',
        b'{"key": "k", "width": true, "format": "jpeg"}',
        b'{"key": "k", "width": 300, "format": "bmp"}',
        b'"just a string"',
    ],
)
def test_malformed_resize_requests_are_refused(body: bytes) -> None:
    with pytest.raises(MalformedMessage):
        ResizeRequest.from_json(body)


def test_replies_in_the_design_shape() -> None:
    ok = ResizeReply.ok("variants/3f2a/p.jpg/w300.jpg", "image/jpeg", 12345)
    assert json.loads(ok.to_json()) == {
        "status": "ok",
        "variant_key": "variants/3f2a/p.jpg/w300.jpg",
        "content_type": "image/jpeg",
        "size": 12345,
    }
    error = ResizeReply.error("NOT_AN_IMAGE", "nope")
    assert json.loads(error.to_json()) == {"status": "error", "code": "NOT_AN_IMAGE", "message": "nope"}
    assert ResizeReply.from_json(ok.to_json()) == ok
    assert ResizeReply.from_json(error.to_json()) == error
    for bad in (b'{"status": "maybe"}', b'{"status": "ok", "variant_key": "v", "size": null}', b'{"status": "ok"}'):
        with pytest.raises(MalformedMessage):
            ResizeReply.from_json(bad)


def test_error_codes_come_back_as_their_errors() -> None:
    assert isinstance(error_from_code("NOT_AN_IMAGE", "x"), NotAnImage)
    assert isinstance(error_from_code("TOO_MANY_PIXELS"), TooManyPixels)
    assert error_from_code("RESIZE_TIMEOUT").status == 503 and isinstance(
        error_from_code("RESIZE_TIMEOUT"), ResizeTimeout
    )
    unknown = error_from_code("SOMETHING_NEW", "details")
    assert unknown.status == 500 and unknown.message == "details"


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("image/jpeg", "jpeg"),
        ("image/png", "png"),
        ("image/webp", "webp"),
        ("IMAGE/JPEG; charset=binary", "jpeg"),
        ("image/gif", None),
        ("image/svg+xml", None),
        ("application/pdf", None),
        ("", None),
        (None, None),
    ],
)
def test_which_originals_get_variants_and_in_which_format(content_type: str | None, expected: str | None) -> None:
    assert variant_format(content_type) == expected


def test_a_request_sends_only_the_hints_it_sets() -> None:
    plain = ResizeRequest(key="3f2a/p.jpg", width=300, format="jpeg")
    assert json.loads(plain.to_json()) == {"key": "3f2a/p.jpg", "width": 300, "format": "jpeg"}
    hinted = ResizeRequest(
        key="3f2a/p.jpg",
        width=300,
        format="jpeg",
        inline_max=524288,
        variant_absent=True,
        source_unchecked=True,
        format_guessed=True,
    )
    assert ResizeRequest.from_json(hinted.to_json()) == hinted


@pytest.mark.parametrize(
    "extra",
    [
        {"inline_max": -1},
        {"inline_max": "big"},
        {"inline_max": True},
        {"inline_max": 10**9},
        {"variant_absent": 1},
        {"source_unchecked": "yes"},
    ],
)
def test_malformed_hints_are_refused(extra: dict[str, object]) -> None:
    body = json.dumps({"key": "k/p.jpg", "width": 300, "format": "jpeg", **extra}).encode()
    with pytest.raises(MalformedMessage):
        ResizeRequest.from_json(body)


def test_a_reply_carries_the_variant_bytes_after_its_json() -> None:
    data = b"\xff\xd8 bytes with a \n newline \xff\xd9"
    reply = ResizeReply.ok("variants/3f2a/p.jpg/w300.jpg", "image/jpeg", len(data), etag="abc", body=data)
    wire = reply.to_wire()
    assert ResizeReply.from_wire(wire) == reply and ResizeReply.from_wire(wire).body == data
    # without bytes the wire form is the JSON an older caller reads
    plain = ResizeReply.ok("variants/3f2a/p.jpg/w300.jpg", "image/jpeg", 5)
    assert plain.to_wire() == plain.to_json()
    assert ResizeReply.from_wire(plain.to_wire()).body is None
    with pytest.raises(MalformedMessage):  # bytes that are not the whole variant
        ResizeReply.from_wire(ResizeReply.ok("v", "image/jpeg", 99).to_json() + b"\nshort")
