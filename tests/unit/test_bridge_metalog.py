"""Parsing ``weed filer.meta.tail`` output incrementally (services.bridge.metalog)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from services.bridge.metalog import Malformed, MetaLogParser, Noise, Record


def pretty(record: dict[str, Any]) -> str:
    """The way the tail prints a record: multi-line, two-space indent, braces at line starts."""
    return json.dumps(record, indent=2, separators=(",", ":  "), ensure_ascii=False) + "\n"


RECORDS: list[dict[str, Any]] = [
    {"directory": "/buckets/files/a", "eventNotification": {"newEntry": {"name": "x{}.jpg"}}, "tsNs": "1"},
    {"directory": "/buckets/files/b", "eventNotification": {"oldEntry": {"name": "ü\n}.jpg"}}, "tsNs": "2"},
]


def records_of(items: Sequence[object]) -> list[object]:
    return [item.data for item in items if isinstance(item, Record)]


def test_concatenated_pretty_records_in_arbitrary_chunks() -> None:
    stream = "".join(pretty(r) for r in RECORDS).encode()
    for size in (1, 2, 7, 64, len(stream)):
        parser = MetaLogParser()
        items: list[object] = []
        for start in range(0, len(stream), size):
            items += parser.feed(stream[start : start + size])
        items += parser.finish()
        assert records_of(items) == RECORDS, size
        assert all(isinstance(i, Record) for i in items)


def test_no_record_until_it_is_complete() -> None:
    parser = MetaLogParser()
    text = pretty(RECORDS[0])
    assert parser.feed(text[:-3].encode()) == []
    assert records_of(parser.feed(text[-3:].encode())) == [RECORDS[0]]
    assert parser.pending == 0


def test_text_lines_between_records_are_noise() -> None:
    parser = MetaLogParser()
    text = (
        "tail 127.0.0.1:8888.18888: subscribing filer meta change: connection refused\n"
        + pretty(RECORDS[0])
        + "some warning\n"
        + pretty(RECORDS[1])
    )
    items = parser.feed(text.encode())
    assert [type(i) for i in items] == [Noise, Record, Noise, Record]
    assert isinstance(items[0], Noise) and "connection refused" in items[0].line


def test_a_broken_record_is_skipped_and_the_next_one_parsed() -> None:
    parser = MetaLogParser()
    broken = '{\n  "directory":  "/buckets/files/a",\n  "tsNs":  oops\n}\n'
    items = parser.feed((broken + pretty(RECORDS[1])).encode())
    assert isinstance(items[0], Malformed)
    assert records_of(items) == [RECORDS[1]]


def test_a_truncated_record_at_the_end_is_reported() -> None:
    parser = MetaLogParser()
    assert parser.feed(pretty(RECORDS[0])[:20].encode()) == []
    [item] = parser.finish()
    assert isinstance(item, Malformed)


def test_unterminated_garbage_is_bounded() -> None:
    parser = MetaLogParser(max_pending=100)
    items = parser.feed(b"{" + b'"a": "' + b"x" * 200)
    assert isinstance(items[-1], Malformed)
    assert parser.pending == 0
    assert records_of(parser.feed(pretty(RECORDS[0]).encode())) == [RECORDS[0]]


def test_utf8_split_across_chunks() -> None:
    data = pretty(RECORDS[1]).encode()
    cut = data.index("ü".encode()) + 1
    parser = MetaLogParser()
    items = parser.feed(data[:cut]) + parser.feed(data[cut:])
    assert records_of(items) == [RECORDS[1]]
