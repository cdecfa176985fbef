"""The resize kernel on real, generated pictures: sizes, modes, formats, orientation, refusals."""

from __future__ import annotations

import io
import os
import time

import pytest
from PIL import ExifTags, Image, ImageChops, ImageCms, ImageStat

from devstack.photos import jpeg_bytes, photo
from services.resize.kernel import make_variant
from shared.errors import NotAnImage, TooManyPixels
from tests.support.images import huge_png_header

MAX_PIXELS = 50_000_000


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, fmt, **params)
    return buffer.getvalue()


def resize(data: bytes, width: int, fmt: str | None = None) -> tuple[Image.Image, str, tuple[int, int]]:
    result = make_variant(data, width, fmt, max_pixels=MAX_PIXELS, quality=82)
    image = Image.open(io.BytesIO(result.data))
    image.load()
    return image, result.content_type, result.size


def rgb(image: Image.Image, xy: tuple[int, int]) -> tuple[int, int, int]:
    value = image.convert("RGB").getpixel(xy)
    assert isinstance(value, tuple)
    return value[0], value[1], value[2]


def alpha_range(image: Image.Image) -> tuple[int, int]:
    low, high = image.getchannel("A").getextrema()
    assert isinstance(low, int) and isinstance(high, int)
    return low, high


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


def test_twelve_megapixel_jpeg_to_300_matches_a_full_quality_resize() -> None:
    source = photo(4000, 3000, seed=7)
    data = encode(source, "JPEG", quality=90)

    image, content_type, size = resize(data, 300, "jpeg")

    assert size == (300, 225) == image.size
    assert content_type == "image/jpeg"
    assert image.format == "JPEG" and image.mode == "RGB"
    assert image.info.get("progressive") or image.info.get("progression")
    # DCT scaling plus reducing_gap must look like a fair LANCZOS of the full decode.
    reference = Image.open(io.BytesIO(data)).resize((300, 225), Image.Resampling.LANCZOS)
    assert mean_difference(image, reference) < 4.0


def test_png_with_alpha_keeps_its_transparency() -> None:
    data = encode(photo(800, 600, mode="RGBA"), "PNG")

    image, content_type, size = resize(data, 300, "png")

    assert (size, content_type, image.format, image.mode) == ((300, 225), "image/png", "PNG", "RGBA")
    low, high = alpha_range(image)
    assert low < 40 and high > 215


def test_webp_with_alpha_keeps_its_transparency() -> None:
    data = encode(photo(640, 480, mode="RGBA"), "WEBP", quality=90)

    image, content_type, size = resize(data, 100)

    assert (size, content_type, image.format, image.mode) == ((100, 75), "image/webp", "WEBP", "RGBA")
    low, high = alpha_range(image)
    assert low < 40 and high > 215


def test_transparent_png_to_jpeg_is_flattened_onto_white() -> None:
    source = Image.new("RGBA", (400, 200), (255, 0, 0, 255))
    source.paste((0, 0, 0, 0), (200, 0, 400, 200))  # right half: transparent black

    image, _, size = resize(encode(source, "PNG"), 100, "jpeg")

    assert size == (100, 50) and image.mode == "RGB"
    r, g, b = rgb(image, (10, 25))
    assert r > 230 and g < 30 and b < 30
    assert min(rgb(image, (90, 25))) > 230


def test_palette_png_with_transparency_becomes_rgba() -> None:
    source = photo(600, 300).quantize(64)
    source.info["transparency"] = 0
    image, _, size = resize(encode(source, "PNG", transparency=0), 300, "png")

    assert size == (300, 150)
    assert image.mode == "RGBA"


def test_palette_png_without_transparency_becomes_rgb() -> None:
    image, _, size = resize(encode(photo(600, 300).quantize(64), "PNG"), 300, "png")

    assert size == (300, 150) and image.mode == "RGB"


def test_sixteen_bit_gray_png_is_scaled_not_clipped() -> None:
    source = Image.new("I;16", (400, 100), 32768)  # 50 % gray in 16 bits
    data = encode(source, "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")

    image, _, size = resize(data, 200, "png")

    assert size == (200, 50) and image.mode == "L"
    assert 120 <= rgb(image, (100, 25))[0] <= 136


def test_cmyk_jpeg_becomes_rgb() -> None:
    source = Image.new("CMYK", (400, 200), (255, 0, 0, 0))  # pure cyan
    data = encode(source, "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"

    image, content_type, size = resize(data, 100, "jpeg")

    assert (size, content_type, image.mode) == ((100, 50), "image/jpeg", "RGB")
    r, g, b = rgb(image, (50, 25))
    assert r < 40 and g > 215 and b > 215


def test_exif_orientation_six_is_applied_and_stripped() -> None:
    # Stored 400x200: left half red, right half blue. Orientation 6 = "rotate 90 degrees clockwise
    # to display": upright it is 200x400 with red on top and blue at the bottom.
    source = Image.new("RGB", (400, 200), (255, 0, 0))
    source.paste((0, 0, 255), (200, 0, 400, 200))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "TestCam"
    data = encode(source, "JPEG", quality=95, exif=exif.tobytes())

    image, _, size = resize(data, 100, "jpeg")

    assert size == (100, 200) == image.size
    top, bottom = rgb(image, (50, 20)), rgb(image, (50, 180))
    assert top[0] > 200 and top[2] < 50
    assert bottom[2] > 200 and bottom[0] < 50
    assert dict(image.getexif()) == {}  # no orientation left to apply twice, no camera data


def test_icc_profile_is_kept_and_other_metadata_dropped() -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestCam"
    data = encode(photo(600, 400), "JPEG", icc_profile=icc, exif=exif.tobytes(), comment=b"secret")

    image, _, _ = resize(data, 300, "jpeg")

    assert image.info.get("icc_profile") == icc
    assert "exif" not in image.info and "comment" not in image.info


def test_never_upscales() -> None:
    image, _, size = resize(jpeg_bytes(200, 120), 1500, "jpeg")

    assert size == (200, 120) == image.size


def test_format_none_keeps_the_source_format() -> None:
    _, content_type, _ = resize(encode(photo(300, 300), "PNG"), 100)
    assert content_type == "image/png"
    _, content_type, _ = resize(jpeg_bytes(300, 300), 100)
    assert content_type == "image/jpeg"


def test_format_conversion_to_webp() -> None:
    image, content_type, size = resize(jpeg_bytes(1000, 500), 500, "webp")

    assert (image.format, content_type, size) == ("WEBP", "image/webp", (500, 250))


def test_gray_jpeg_to_webp() -> None:
    image, _, size = resize(encode(photo(400, 400).convert("L"), "JPEG"), 100, "webp")

    assert image.format == "WEBP" and size == (100, 100)


def test_truncated_jpeg_is_not_an_image() -> None:
    data = jpeg_bytes(800, 600)
    with pytest.raises(NotAnImage):
        make_variant(data[: len(data) // 2], 300, "jpeg", max_pixels=MAX_PIXELS, quality=82)


def test_corrupt_jpeg_is_not_an_image() -> None:
    data = bytearray(jpeg_bytes(800, 600))
    data[200:4000] = os.urandom(3800)  # through the tables and into the scan
    with pytest.raises(NotAnImage):
        make_variant(bytes(data), 300, "jpeg", max_pixels=MAX_PIXELS, quality=82)


@pytest.mark.parametrize(
    "data",
    [os.urandom(4096), b"", b"%PDF-1.7\n", encode(photo(64, 64), "GIF"), b"<svg xmlns='x'></svg>"],
    ids=["random", "empty", "pdf", "gif", "svg"],
)
def test_other_bytes_are_not_an_image(data: bytes) -> None:
    with pytest.raises(NotAnImage) as caught:
        make_variant(data, 300, "jpeg", max_pixels=MAX_PIXELS, quality=82)
    assert caught.value.code == "NOT_AN_IMAGE"


@pytest.mark.parametrize("side", [100_000, 8_000], ids=["bomb", "over-limit"])
def test_huge_header_fails_fast_without_decoding(side: int) -> None:
    data = huge_png_header(side, side)
    started = time.perf_counter()
    with pytest.raises(TooManyPixels) as caught:
        make_variant(data, 300, "jpeg", max_pixels=MAX_PIXELS, quality=82)
    assert time.perf_counter() - started < 0.5
    assert caught.value.code == "TOO_MANY_PIXELS"


def test_max_pixels_is_the_limit() -> None:
    data = jpeg_bytes(200, 100)
    with pytest.raises(TooManyPixels):
        make_variant(data, 100, "jpeg", max_pixels=200 * 100 - 1, quality=82)
    assert make_variant(data, 100, "jpeg", max_pixels=200 * 100, quality=82).size == (100, 50)


def test_multi_picture_jpeg_from_a_camera_is_resized() -> None:
    buffer = io.BytesIO()
    photo(800, 600).save(buffer, "MPO", save_all=True, append_images=[photo(800, 600, seed=3)])
    assert Image.open(io.BytesIO(buffer.getvalue())).format == "MPO"

    image, content_type, size = resize(buffer.getvalue(), 300)

    assert (image.format, content_type, size) == ("JPEG", "image/jpeg", (300, 225))


def test_avif_in_and_out_keeps_alpha_and_looks_the_same() -> None:
    source = photo(640, 480, seed=9, mode="RGBA")
    data = encode(source, "AVIF", quality=90)

    image, content_type, size = resize(data, 300)

    assert (size, content_type, image.format, image.mode) == ((300, 225), "image/avif", "AVIF", "RGBA")
    low, high = alpha_range(image)
    assert low < 40 and high > 215
    assert mean_difference(image, source.resize((300, 225), Image.Resampling.LANCZOS)) < 6.0


def test_jpeg_to_avif_is_smaller_than_the_jpeg_variant_at_a_similar_likeness() -> None:
    data = jpeg_bytes(1600, 1200, seed=4)
    reference = Image.open(io.BytesIO(data)).resize((500, 375), Image.Resampling.LANCZOS)
    as_jpeg = make_variant(data, 500, "jpeg", max_pixels=MAX_PIXELS, quality=82)
    as_avif = make_variant(data, 500, "avif", max_pixels=MAX_PIXELS, quality=60)
    image = Image.open(io.BytesIO(as_avif.data))
    assert (image.format, image.size, as_avif.content_type) == ("AVIF", (500, 375), "image/avif")
    assert mean_difference(image, reference) < 4.0
    assert len(as_avif.data) < len(as_jpeg.data)
