"""Incremental parsing of ``weed filer.meta.tail`` output. Pure: text in, items out.

The tail prints one pretty-printed (multi-line) JSON object per change, concatenated, with each
object's opening ``{`` and closing ``}`` at the start of a line. It also prints plain-text
messages (a failed subscription, for example) on the same stream. ``feed`` takes whatever bytes
arrived and returns the complete items: records (dicts), malformed objects and noise lines.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from typing import Any

MAX_PENDING = 16 * 1024 * 1024  # one record is a few KiB; more than this unterminated is garbage


@dataclass(frozen=True)
class Record:
    data: dict[str, Any]


@dataclass(frozen=True)
class Malformed:
    text: str
    reason: str


@dataclass(frozen=True)
class Noise:
    line: str


Item = Record | Malformed | Noise


class MetaLogParser:
    def __init__(self, max_pending: int = MAX_PENDING) -> None:
        self._decoder = json.JSONDecoder()
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._max_pending = max_pending

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Item]:
        self._buffer += self._utf8.decode(data)
        items: list[Item] = []
        pos = 0
        buf = self._buffer
        while True:
            while pos < len(buf) and buf[pos].isspace():
                pos += 1
            if pos >= len(buf):
                break
            if buf[pos] != "{":
                end = buf.find("\n", pos)
                if end < 0:
                    break  # wait for the rest of the line
                items.append(Noise(buf[pos:end].rstrip()))
                pos = end + 1
                continue
            try:
                value, end = self._decoder.raw_decode(buf, pos)
            except json.JSONDecodeError:
                # Incomplete, or broken: a closing brace at a line start ends a top-level object.
                close = buf.find("\n}", pos)
                if close < 0:
                    break
                end = close + 2
                items.append(Malformed(buf[pos:end], "not valid JSON"))
                pos = end
                continue
            if isinstance(value, dict):
                items.append(Record(value))
            else:
                items.append(Malformed(buf[pos:end], "not a JSON object"))
            pos = end
        self._buffer = buf[pos:]
        if len(self._buffer) > self._max_pending:
            items.append(Malformed(self._buffer[:200], f"over {self._max_pending} characters unterminated"))
            self._buffer = ""
        return items

    def finish(self) -> list[Item]:
        """The stream ended: whatever is left is a truncated record or a last line of text."""
        items = self.feed(b"\n")
        rest = self._buffer.strip()
        self._buffer = ""
        if rest:
            if rest.startswith("{"):
                items.append(Malformed(rest[:200], "truncated at end of stream"))
            else:
                items.append(Noise(rest))
        return items
