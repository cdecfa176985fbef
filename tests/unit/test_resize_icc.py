"""ICC profiles of originals: kept only when small, parsing and describing the variant's pixels;
a big one converts the pixels to sRGB; one that does not parse is dropped. Never copied unchecked."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageCms

from services.resize import icc
from services.resize.kernel import make_variant
from tests.support.hostile_images import encoded, small_png_with_big_profile
from tests.support.icc_build import gray_profile, rgb_profile, swapped_red_blue

FORMATS = ("jpeg", "png", "webp", "avif")
RED = Image.new("RGB", (120, 80), (255, 0, 0))


def variant(data: bytes, fmt: str | None, width: int = 60) -> tuple[Image.Image, int]:
    result = make_variant(data, width, fmt, max_pixels=10**8, quality=90)
    image = Image.open(io.BytesIO(result.data))
    image.load()
    return image, len(result.data)


def centre(image: Image.Image) -> tuple[int, int, int]:
    value = image.convert("RGB").getpixel((image.width // 2, image.height // 2))
    assert isinstance(value, tuple)
    return value[0], value[1], value[2]


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_issues_example_a_small_png_with_a_1_mb_profile_gives_a_small_thumbnail(fmt: str) -> None:
    source = small_png_with_big_profile(1_000_000)
    assert len(source) < 2048
    image, size = variant(source, fmt, width=100)
    assert image.size == (100, 75)
    assert size < 4096  # was about 1 MB for JPEG, WebP and AVIF
    assert not image.info.get("icc_profile")


@pytest.mark.parametrize("source_fmt", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_big_profile_that_parses_converts_the_pixels_to_srgb(source_fmt: str, fmt: str) -> None:
    profile = swapped_red_blue(pad_to=icc.MAX_KEPT_BYTES + 1)
    image, size = variant(encoded(RED, source_fmt, icc_profile=profile, quality=95), fmt)
    assert not image.info.get("icc_profile")
    assert size < 4096
    r, g, b = centre(image)
    assert b > 200 and r < 60 and g < 60  # red in that profile is sRGB's blue


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_small_profile_that_parses_and_describes_the_pixels_is_kept(fmt: str) -> None:
    profile = swapped_red_blue(pad_to=icc.MAX_KEPT_BYTES)
    assert len(profile) == icc.MAX_KEPT_BYTES
    image, _ = variant(encoded(RED, "PNG", icc_profile=profile), fmt)
    assert image.info.get("icc_profile") == profile
    r, g, b = centre(image)
    assert r > 200 and g < 60 and b < 60  # the pixels stay as the profile means them


@pytest.mark.parametrize(
    "profile",
    [
        b"not a profile at all" * 10,
        rgb_profile()[:100],  # cut inside its header
        b"\x00\x00\x01\x00" + rgb_profile()[4:],  # a size field that cuts its tags off
        b"\x00\x10\x00\x00" + rgb_profile()[4:],  # a size field beyond its bytes
        gray_profile(),  # a gray profile on RGB pixels
        rgb_profile(device_class=b"link"),  # a device link describes no image
        ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes(),  # abstract
    ],
    ids=["garbage", "cut", "size-cuts-tags", "size-beyond-bytes", "wrong-colour-space", "device-link", "abstract"],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_profile_that_does_not_parse_or_fit_is_dropped_and_the_pixels_kept(profile: bytes, fmt: str) -> None:
    image, _ = variant(encoded(RED, "PNG", icc_profile=profile), fmt)
    assert not image.info.get("icc_profile")
    r, g, b = centre(image)
    assert r > 200 and g < 60 and b < 60


def test_a_gray_profile_stays_with_gray_pixels_and_converts_them_where_the_format_has_no_gray() -> None:
    profile = gray_profile(gamma=1.0)  # linear gray: 128 is a light gray in sRGB
    data = encoded(Image.new("L", (120, 80), 128), "PNG", icc_profile=profile)
    for fmt in ("jpeg", "png"):
        image, _ = variant(data, fmt)
        assert image.mode == "L" and image.info.get("icc_profile") == profile
    for fmt in ("webp", "avif"):
        image, _ = variant(data, fmt)
        assert not image.info.get("icc_profile")
        r, g, b = centre(image)
        assert min(r, g, b) > 170 and max(r, g, b) - min(r, g, b) < 8


def test_bytes_after_a_profiles_declared_size_are_not_kept() -> None:
    profile = rgb_profile()
    image, _ = variant(encoded(RED, "PNG", icc_profile=profile + b"\x00trailing junk" * 100), "jpeg")
    assert image.info.get("icc_profile") == profile


def test_alpha_survives_a_conversion_to_srgb() -> None:
    source = Image.new("RGBA", (120, 80), (255, 0, 0, 255))
    source.paste((255, 0, 0, 0), (60, 0, 120, 80))
    profile = swapped_red_blue(pad_to=100_000)
    image, _ = variant(encoded(source, "PNG", icc_profile=profile), "png")
    assert image.mode == "RGBA" and not image.info.get("icc_profile")
    assert image.getpixel((10, 20)) == (0, 0, 255, 255)
    assert image.getpixel((50, 20))[3] == 0  # type: ignore[index]


@pytest.mark.parametrize(
    ("data", "kept"),
    [
        (None, False),
        (b"", False),
        (rgb_profile(), True),
        (rgb_profile(pad_to=icc.MAX_KEPT_BYTES + 1), False),
        (b"junk", False),
    ],
    ids=["none", "empty", "small", "big", "junk"],
)
def test_settle_on_rgb_pixels(data: bytes | None, kept: bool) -> None:
    pixels = Image.new("RGB", (4, 4), (10, 20, 30))
    out, embedded = icc.settle(pixels, icc.parse(data), gray_kept=True)
    assert (embedded == data) if kept else embedded is None
    assert out.mode == "RGB"
