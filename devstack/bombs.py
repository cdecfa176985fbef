"""Pictures made to hurt a resizer: small files that cost a decoder far more than their size says
(used by the tests and by `make bench`, so they live with the other synthetic pictures)."""

from __future__ import annotations

import struct


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


class _BitWriter:
    """Entropy-coded bits, with a zero stuffed after every 0xFF byte as JPEG wants."""

    def __init__(self) -> None:
        self._out = bytearray()
        self._byte = 0
        self._filled = 0

    def put(self, value: int, length: int) -> None:
        for shift in range(length - 1, -1, -1):
            self._byte = (self._byte << 1) | ((value >> shift) & 1)
            self._filled += 1
            if self._filled == 8:
                self._out.append(self._byte)
                if self._byte == 0xFF:
                    self._out.append(0)
                self._byte = self._filled = 0

    def getvalue(self) -> bytes:
        if self._filled:
            pad = 8 - self._filled
            self.put((1 << pad) - 1, pad)  # padded with ones
        return bytes(self._out)


def many_scans_jpeg(width: int, height: int, scans: int) -> bytes:
    """A grey progressive JPEG of ``width x height`` whose ``scans`` scans are one DC scan and the
    same all-zero AC scan repeated: a flat grey picture, about 100 bytes per 7000x7000 scan, and
    every scan makes the decoder walk every block again.

    The Huffman tables have one code each: DC difference category 0, and an end-of-band run of
    32767 blocks (EOBRUN, r = 14), which covers the picture in a few codes.
    """
    if scans < 1:
        raise ValueError("a JPEG has at least one scan")
    blocks = -(-width // 8) * -(-height // 8)
    out = bytearray(b"\xff\xd8")
    out += _segment(0xDB, b"\x00" + b"\x01" * 64)  # quantization table 0, all ones
    out += _segment(0xC2, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")  # SOF2, 1 component
    one_code = bytes([1] + [0] * 15)  # one code of length 1
    out += _segment(0xC4, b"\x00" + one_code + b"\x00")  # DC table 0: category 0
    out += _segment(0xC4, b"\x10" + one_code + b"\xe0")  # AC table 0: EOBRUN with 14 extra bits
    dc = _BitWriter()
    for _ in range(blocks):
        dc.put(0, 1)
    out += _segment(0xDA, b"\x01\x01\x00\x00\x00\x00") + dc.getvalue()  # Ss=0, Se=0
    ac = _BitWriter()
    for _ in range(-(-blocks // 32767)):
        ac.put(0, 1)
        ac.put(32767 - 16384, 14)
    ac_scan = _segment(0xDA, b"\x01\x01\x00\x01\x3f\x00") + ac.getvalue()  # Ss=1, Se=63
    out += ac_scan * (scans - 1)
    out += b"\xff\xd9"
    return bytes(out)
