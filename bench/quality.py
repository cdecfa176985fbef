"""Picture similarity without extra dependencies: PSNR from Pillow's difference histogram."""

from __future__ import annotations

import math

from PIL import Image, ImageChops


def psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio (dB) over R, G and B; ``b`` is resized to ``a`` if they differ."""
    a = a.convert("RGB")
    b = b.convert("RGB")
    if a.size != b.size:
        b = b.resize(a.size, Image.Resampling.LANCZOS)
    histogram = ImageChops.difference(a, b).histogram()
    squares = sum(count * (value % 256) ** 2 for value, count in enumerate(histogram))
    mse = squares / (a.width * a.height * 3)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)
