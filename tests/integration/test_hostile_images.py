"""Hostile pictures through the real download service and a real resize worker (real RabbitMQ,
real SeaweedFS): sources that do not decode whole are 422 NOT_AN_IMAGE, transparency survives
for every PNG kind, and a huge ICC profile never reaches a variant.

The service and worker come from test_download_formats' fixture; pictures are compared by size,
mode and alpha, never by bytes.
"""

from __future__ import annotations

import pytest
from PIL import Image

from services.resize.icc import MAX_KEPT_BYTES
from shared.s3 import ObjectStore
from tests.integration import test_download_formats
from tests.integration.test_download_formats import Start, opened, put
from tests.support.hostile_images import (
    HEIGHT,
    TRANSPARENT_PNGS,
    WIDTH,
    broken_sources,
    encoded,
    small_png_with_big_profile,
)
from tests.support.icc_build import rgb_profile, swapped_red_blue

# The download service and one real resize worker: test_download_formats' fixture, shared.
start = test_download_formats.start

ALPHA_TOLERANCE = {"png": 0, "webp": 0, "avif": 8}  # AVIF codes alpha lossily


def alpha_at(image: Image.Image, xy: tuple[int, int]) -> int:
    value = image.convert("RGBA").getpixel(xy)
    assert isinstance(value, tuple)
    return value[3]


async def test_sources_that_do_not_decode_whole_are_422_not_an_image(start: Start, store: ObjectStore) -> None:
    client = await start()
    sources = broken_sources()
    answers: dict[str, tuple[int, str]] = {}
    for source in sources:
        key = await put(store, f"{source.name}.img", source.data, source.content_type)
        resp = await client.get(f"/files/{key}", params={"width": 100})
        code = resp.json()["error"]["code"] if resp.status_code >= 400 else ""
        answers[source.name] = (resp.status_code, code)
        if resp.status_code == 422:
            assert resp.headers["cache-control"] == "no-store"
            assert await store.list_keys(f"variants/{key.split('/')[0]}/") == []
    assert answers == {source.name: (422, "NOT_AN_IMAGE") for source in sources}


async def test_a_broken_gif_is_served_as_it_is_never_as_half_a_picture(start: Start, store: ObjectStore) -> None:
    """GIFs are not resized (the download service passes them through), so a cut one is never decoded."""
    gif = encoded(Image.new("P", (60, 40), 3), "GIF")
    key = await put(store, "cut.gif", gif[: len(gif) // 2], "image/gif")
    client = await start()
    resp = await client.get(f"/files/{key}", params={"width": 30})
    assert resp.status_code == 200 and resp.content == gif[: len(gif) // 2]


@pytest.mark.parametrize("fmt", ["png", "webp", "avif"])
async def test_every_kind_of_transparent_png_stays_transparent(start: Start, store: ObjectStore, fmt: str) -> None:
    client = await start()
    tolerance = ALPHA_TOLERANCE[fmt]
    lost: list[str] = []
    for source in TRANSPARENT_PNGS:
        key = await put(store, f"{source.name}.png", source.data, "image/png")
        resp = await client.get(f"/files/{key}", params={"width": WIDTH, "format": fmt})
        assert resp.status_code == 200, (source.name, resp.text)
        image = opened(resp)
        assert image.size == (WIDTH, HEIGHT)  # the service's nearest width is larger: never upscaled
        transparent = alpha_at(image, (WIDTH * 3 // 4, HEIGHT // 2))
        opaque = alpha_at(image, (WIDTH // 4, HEIGHT // 2))
        if transparent > tolerance or opaque < 255 - tolerance:
            lost.append(f"{source.name}: alpha {opaque} / {transparent}")
    assert lost == []


async def test_a_1_mb_profile_never_reaches_a_variant(start: Start, store: ObjectStore) -> None:
    source = small_png_with_big_profile(1_000_000)
    key = await put(store, "tiny-with-profile.png", source, "image/png")
    client = await start()
    sizes: dict[str, int] = {}
    for fmt in ("jpeg", "png", "webp", "avif"):
        resp = await client.get(f"/files/{key}", params={"width": 100, "format": fmt})
        assert resp.status_code == 200, resp.text
        image = opened(resp)
        assert image.size == (100, 75) and not image.info.get("icc_profile")
        sizes[fmt] = len(resp.content)
    assert max(sizes.values()) < 4096, sizes  # about 1 MB each for JPEG, WebP and AVIF before


async def test_profiles_are_kept_when_small_and_converted_when_big(start: Start, store: ObjectStore) -> None:
    red = Image.new("RGB", (200, 100), (255, 0, 0))
    small = rgb_profile()
    kept = await put(store, "small.jpg", encoded(red, "JPEG", quality=95, icc_profile=small), "image/jpeg")
    big = swapped_red_blue(pad_to=MAX_KEPT_BYTES * 4)
    converted = await put(store, "big.jpg", encoded(red, "JPEG", quality=95, icc_profile=big), "image/jpeg")
    client = await start()

    resp = await client.get(f"/files/{kept}", params={"width": 50})
    assert opened(resp).info.get("icc_profile") == small

    resp = await client.get(f"/files/{converted}", params={"width": 50, "format": "webp"})
    image = opened(resp)
    assert not image.info.get("icc_profile") and len(resp.content) < 4096
    r, g, b = image.convert("RGB").getpixel((25, 12))  # type: ignore[misc]
    assert b > 200 and r < 60 and g < 60  # red in that profile is sRGB's blue
