"""Counting a JPEG's scans from its markers, before any decoder sees it.

Why: a progressive JPEG may repeat its scans thousands of times. Each scan is a few bytes of
entropy-coded data but makes libjpeg walk every block of the picture once more, so a 1 MB file
of 49 MP keeps a decoder busy for about a minute (8 ms a scan per 49 MP grey channel here), far
beyond what its size suggests. Encoders write 1 (baseline) to about a dozen scans (libjpeg's
default progression has 10; libjpeg-turbo's TurboJPEG API has a flag, TJFLAG_LIMITSCANS, against
the same abuse). Counting start-of-scan (SOS) segments costs one pass over the bytes: the
segments' lengths are followed outside the entropy-coded data, which is skipped with a regular
expression up to the next marker.

Only the first picture is counted (up to its EOI): an MPO carries more pictures after it, which
the kernel never decodes.
"""

from __future__ import annotations

import re

from shared.errors import TooManyScans

SOI = b"\xff\xd8"
_SOS = 0xDA
_EOI = 0xD9
# Markers without a length: TEM and the restart markers RST0-7.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
# The end of entropy-coded data: 0xFF followed by anything but a stuffed zero or a restart marker
# (a fill byte 0xFF too: the loop skips fill bytes). A literal first byte keeps the search in C
# at memory speed (0.6 ms for 5 MB here; "\xff+" before the class made it 20 times slower).
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7]")


def is_jpeg(data: bytes) -> bool:
    return data.startswith(SOI + b"\xff")


def count_scans(data: bytes, *, stop_after: int) -> int:
    """SOS segments in the first picture of ``data``; counting stops past ``stop_after``.

    Bytes that are not a well-formed JPEG stop the count where they go wrong: what was counted up
    to there is returned, and the decoder judges the rest.
    """
    if not data.startswith(SOI):
        return 0
    scans, pos, end = 0, len(SOI), len(data)
    while pos < end and data[pos] == 0xFF:
        while pos < end and data[pos] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos >= end:
            break
        marker = data[pos]
        pos += 1
        if marker == _EOI:
            break
        if marker in _STANDALONE:
            continue
        if pos + 2 > end:
            break
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length < 2:
            break
        pos += length
        if marker == _SOS:
            scans += 1
            if scans > stop_after:
                break
            found = _NEXT_MARKER.search(data, pos)
            if found is None:
                break
            pos = found.start()
    return scans


def check_scans(data: bytes, max_scans: int) -> None:
    """Raise ``TooManyScans`` (422) for a JPEG with more than ``max_scans`` scans; others pass."""
    if not is_jpeg(data):
        return
    scans = count_scans(data, stop_after=max_scans)
    if scans > max_scans:
        raise TooManyScans(f"The JPEG has more than {max_scans} scans; at most {max_scans} are decoded.")
