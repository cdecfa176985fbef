"""The benchmark's pictures: a fixed, seeded set, made once and kept under ``.bench/pictures``.

Photographic content (gradients, blurred shapes, strokes, mild noise; ``devstack.photos.photo``),
not pure noise, so the encoders and the JPEG DCT scaling behave as on real photos.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from devstack.photos import photo

CACHE = Path(__file__).resolve().parent.parent / ".bench" / "pictures"


@dataclass(frozen=True)
class Picture:
    name: str  # file name, with the extension
    width: int  # the source's width
    height: int
    fmt: str  # Pillow format name
    seed: int
    target: int  # the variant width the benchmark asks for

    @property
    def label(self) -> str:
        return f"{self.width * self.height / 1e6:.0f} MP {self.fmt} -> {self.target}"


# The standard set (full benchmark) and a tiny one (the smoke run in `make test`).
FULL = (
    Picture("photo12.jpg", 4000, 3000, "JPEG", 12, 750),
    Picture("photo36.jpg", 7360, 4912, "JPEG", 36, 500),
    Picture("alpha.png", 1600, 1200, "PNG", 5, 500),
    Picture("photo.webp", 2000, 1500, "WEBP", 6, 500),
)
TINY = (
    Picture("tiny.jpg", 320, 240, "JPEG", 12, 100),
    Picture("tiny.png", 160, 120, "PNG", 5, 100),
)


def encode(picture: Picture) -> bytes:
    mode = "RGBA" if picture.fmt == "PNG" else "RGB"
    image = photo(picture.width, picture.height, seed=picture.seed, mode=mode)
    buffer = io.BytesIO()
    if picture.fmt == "JPEG":
        image.save(buffer, "JPEG", quality=90)
    elif picture.fmt == "WEBP":
        image.save(buffer, "WEBP", quality=90)
    else:
        image.save(buffer, picture.fmt)
    return buffer.getvalue()


def load(picture: Picture, cache: Path = CACHE) -> bytes:
    """The picture's bytes, generated on first use and cached (generation is seeded)."""
    path = cache / picture.name
    if path.exists():
        return path.read_bytes()
    data = encode(picture)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return data


def path_of(picture: Picture, cache: Path = CACHE) -> Path:
    load(picture, cache)
    return cache / picture.name


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
