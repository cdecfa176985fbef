"""ICC profiles written by hand (Pillow makes only sRGB): matrix/TRC RGB and gray display profiles,
with any primaries, and padded to any size with a private tag, as LUT profiles weigh."""

from __future__ import annotations

import struct

XYZ = tuple[float, float, float]
D50: XYZ = (0.9642, 1.0, 0.8249)
# sRGB's primaries adapted to D50, as in the sRGB profiles in use.
SRGB_RED: XYZ = (0.4361, 0.2225, 0.0139)
SRGB_GREEN: XYZ = (0.3851, 0.7169, 0.0971)
SRGB_BLUE: XYZ = (0.1431, 0.0606, 0.7141)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(value: XYZ) -> bytes:
    return b"XYZ \x00\x00\x00\x00" + b"".join(_s15(v) for v in value)


def _curve(gamma: float) -> bytes:
    return b"curv\x00\x00\x00\x00" + struct.pack(">IH", 1, round(gamma * 256)) + b"\x00\x00"


def _description(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\x00"
    return (
        b"desc\x00\x00\x00\x00"
        + struct.pack(">I", len(ascii_text))
        + ascii_text
        + struct.pack(">II", 0, 0)  # no Unicode description
        + struct.pack(">HB", 0, 0)
        + b"\x00" * 67  # no ScriptCode description
    )


def _profile(colour_space: bytes, tags: list[tuple[bytes, bytes]], device_class: bytes = b"mntr") -> bytes:
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    entries, bodies = [], b""
    for signature, body in tags:
        body += b"\x00" * (-len(body) % 4)
        entries.append(struct.pack(">4sII", signature, offset + len(bodies), len(body)))
        bodies += body
    size = offset + len(bodies)
    header = (
        struct.pack(">I", size)
        + b"\x00" * 4  # preferred CMM
        + bytes([2, 0x10, 0, 0])  # version 2.1
        + device_class
        + colour_space
        + b"XYZ "
        + b"\x00" * 12  # date
        + b"acsp"
        + b"\x00" * 24  # platform, flags, manufacturer, model, attributes
        + struct.pack(">I", 0)  # rendering intent: perceptual
        + b"".join(_s15(v) for v in D50)
        + b"\x00" * 48  # creator, id, reserved
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + b"".join(entries) + bodies


def _padding(pad_to: int, so_far: int, random_fill: bool) -> list[tuple[bytes, bytes]]:
    missing = pad_to - so_far - 12  # one more tag table entry
    if pad_to <= 0 or missing <= 8:
        return []
    fill = bytes((i * 131 + (i >> 8) * 17) & 0xFF for i in range(missing - 8)) if random_fill else b""
    body = b"zzzz\x00\x00\x00\x00" + (fill or b"\x00" * (missing - 8))
    return [(b"zzzz", body)]


def rgb_profile(
    red: XYZ = SRGB_RED,
    green: XYZ = SRGB_GREEN,
    blue: XYZ = SRGB_BLUE,
    *,
    gamma: float = 2.2,
    pad_to: int = 0,
    scrambled_padding: bool = False,
    device_class: bytes = b"mntr",
) -> bytes:
    """A matrix/TRC RGB profile of about ``pad_to`` bytes (a private tag fills it; zeros compress,
    ``scrambled_padding`` does not)."""
    tags = [
        (b"desc", _description("test RGB")),
        (b"wtpt", _xyz(D50)),
        (b"rXYZ", _xyz(red)),
        (b"gXYZ", _xyz(green)),
        (b"bXYZ", _xyz(blue)),
        (b"rTRC", _curve(gamma)),
        (b"gTRC", _curve(gamma)),
        (b"bTRC", _curve(gamma)),
    ]
    size = len(_profile(b"RGB ", tags, device_class))
    return _profile(b"RGB ", tags + _padding(pad_to, size, scrambled_padding), device_class)


def gray_profile(*, gamma: float = 2.2, pad_to: int = 0) -> bytes:
    tags = [(b"desc", _description("test gray")), (b"wtpt", _xyz(D50)), (b"kTRC", _curve(gamma))]
    size = len(_profile(b"GRAY", tags))
    return _profile(b"GRAY", tags + _padding(pad_to, size, False))


def swapped_red_blue(*, pad_to: int = 0) -> bytes:
    """sRGB with red and blue exchanged: converted to sRGB, a pure red becomes blue."""
    return rgb_profile(SRGB_BLUE, SRGB_GREEN, SRGB_RED, pad_to=pad_to)
