"""Sources that do not decode whole are NOT_AN_IMAGE, for every input format: never half a picture."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from devstack.photos import photo
from services.resize import kernel
from services.resize.kernel import UnsafeDecode, make_variant
from shared.errors import NotAnImage
from tests.support.hostile_images import Broken, broken_sources, encoded

BROKEN = broken_sources()
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("source", BROKEN, ids=[b.name for b in BROKEN])
@pytest.mark.parametrize("fmt", [None, "png"])
def test_a_source_that_does_not_decode_whole_is_not_an_image(source: Broken, fmt: str | None) -> None:
    with pytest.raises(NotAnImage) as caught:
        make_variant(source.data, 100, fmt, max_pixels=50_000_000, quality=82)
    assert (caught.value.status, caught.value.code) == (422, "NOT_AN_IMAGE")


def test_the_broken_sources_are_whole_files_cut_or_spoiled() -> None:
    """Each broken source is refused because of the damage: the undamaged files resize."""
    picture = photo(240, 160, seed=11)
    for fmt, params in [("JPEG", {}), ("PNG", {}), ("WEBP", {"lossless": True}), ("AVIF", {})]:
        assert make_variant(encoded(picture, fmt, **params), 100, None, max_pixels=10**8, quality=82).size == (100, 67)


def test_truncated_images_are_never_completed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should anything in the process turn Pillow's LOAD_TRUNCATED_IMAGES on, the kernel refuses to work."""
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    whole = encoded(photo(64, 48), "PNG")
    with pytest.raises(UnsafeDecode):
        make_variant(whole, 32, None, max_pixels=10**8, quality=82)


def test_nothing_of_ours_turns_load_truncated_images_on() -> None:
    setting = re.compile(r"LOAD_TRUNCATED_IMAGES\s*=(?!=)")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("services", "shared", "devstack", "bench")
        for path in (ROOT / folder).rglob("*.py")
        if setting.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_an_image_is_decoded_only_once() -> None:
    """A second load() after a failed one returns the half-decoded pixels silently: refused outright."""
    image = Image.open(io.BytesIO(encoded(photo(64, 48), "PNG")))
    image.load()
    with pytest.raises(UnsafeDecode):
        kernel._load_once(image)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_a_broken_exif_block_is_still_not_a_broken_image() -> None:
    """The EXIF guard remains for what it is for: a malformed EXIF block on a whole picture."""
    data = encoded(photo(120, 80), "JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff")
    assert make_variant(data, 60, None, max_pixels=10**8, quality=82).size == (60, 40)
