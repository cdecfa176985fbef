"""Real pictures made on the fly: photographic-looking, not noise, seeded.

The tests' and the benchmarks' originals: encoders, the JPEG DCT scaling and the size limits
behave on them as on photographs, and the same seed gives the same picture on every machine.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFilter


def photo(width: int, height: int, *, seed: int = 1, mode: str = "RGB") -> Image.Image:
    """Gradients, blurred shapes and strokes with mild noise: compresses like a photograph."""
    rng = random.Random(seed)
    gx = Image.linear_gradient("L").resize((width, height))
    gy = Image.linear_gradient("L").rotate(90).resize((width, height))
    base = Image.merge("RGB", (gx, gy, Image.new("L", (width, height), rng.randrange(256))))
    draw = ImageDraw.Draw(base)
    for _ in range(12):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(max(2, width // 20), max(3, width // 5))
        color = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=color)
    base = base.filter(ImageFilter.GaussianBlur(radius=max(1, width // 200)))
    draw = ImageDraw.Draw(base)
    for _ in range(20):
        pts = [(rng.randrange(width), rng.randrange(height)) for _ in range(2)]
        draw.line(pts, fill=(rng.randrange(256),) * 3, width=max(1, width // 400))
    noise = Image.effect_noise((width, height), 8).convert("RGB")
    img = Image.blend(base, noise, 0.05)
    if mode == "RGBA":
        alpha = Image.linear_gradient("L").resize((width, height))
        img.putalpha(alpha)
    return img


def jpeg_bytes(width: int, height: int, *, seed: int = 1, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    photo(width, height, seed=seed).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def png_bytes(width: int, height: int, *, seed: int = 2, alpha: bool = True) -> bytes:
    buf = io.BytesIO()
    photo(width, height, seed=seed, mode="RGBA" if alpha else "RGB").save(buf, "PNG")
    return buf.getvalue()
