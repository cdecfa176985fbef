"""The ICC profile of an original: which one a variant carries, and when its pixels go to sRGB instead. Pure.

A profile is untrusted bytes like the rest of the file, and it can outweigh the picture: a 2 KB
PNG may carry a 1 MB profile (compressed in the PNG, stored as it is in JPEG, WebP and AVIF), so
it is never copied unchecked. ``settle`` decides, for a variant's pixels:

- **kept** (its very bytes, up to the size its header declares): lcms parses it and builds a
  transform from it (``PIL.ImageCms``), it is a device or colour space profile (not a device
  link, abstract or named-colour one), describes the pixels' colour space (RGB for RGB/RGBA,
  gray for L/LA), and is at most ``MAX_KEPT_BYTES`` (32 KiB: every matrix profile in use, sRGB
  3 KB, Display P3 and Adobe RGB 0.5 KB, fits many times over);
- **converted**: it parses and describes the pixels but is bigger (LUT profiles: 60 KB to MBs),
  or it is gray while the output format is not (WebP and AVIF): the pixels are converted from it
  to sRGB, and the variant carries no profile (an untagged picture is sRGB on the web);
- **dropped**: it does not parse, is of another kind or describes another colour space (a CMYK
  profile on RGB pixels), or lcms cannot convert from it: the pixels stay as they are, untagged.

``to_srgb`` is also the CMYK path (a CMYK profile is never kept: the pixels become RGB).
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass

from PIL import Image, ImageCms

MAX_KEPT_BYTES = 32 * 1024
_HEADER_BYTES = 132  # the 128-byte header and the tag count
# Device classes of profiles that describe an image's colours (input, display, output, colour space).
_DESCRIBES_PIXELS = frozenset({"scnr", "mntr", "prtr", "spac"})
_SPACE_OF_MODE = {"L": "GRAY", "LA": "GRAY", "RGB": "RGB", "RGBA": "RGB", "CMYK": "CMYK"}
# What lcms raises on bytes it cannot use (PyCMSError is no OSError).
CMS_ERRORS = (ImageCms.PyCMSError, OSError, ValueError, TypeError)


@dataclass(frozen=True)
class Profile:
    data: bytes
    cms: ImageCms.ImageCmsProfile
    colour_space: str  # "RGB", "GRAY", "CMYK", ... (the header's, without padding)


def parse(data: bytes | None) -> Profile | None:
    """The profile when lcms parses it and it can describe an image's colours, else None.

    Its header's size must fit in the bytes (a cut profile does not parse, whatever lcms makes
    of it); bytes after that size are not part of it (as browsers read profiles) and are never kept.
    """
    if not data or len(data) < _HEADER_BYTES:
        return None
    declared = int.from_bytes(data[:4], "big")
    if not _HEADER_BYTES <= declared <= len(data):
        return None
    data = data[:declared]
    try:
        cms = ImageCms.ImageCmsProfile(io.BytesIO(data))
        device_class = cms.profile.device_class
        colour_space = cms.profile.xcolor_space.strip()
    except CMS_ERRORS:
        return None
    if device_class not in _DESCRIBES_PIXELS:
        return None
    return Profile(data, cms, colour_space)


def settle(im: Image.Image, profile: Profile | None, *, gray_kept: bool) -> tuple[Image.Image, bytes | None]:
    """The pixels to encode and the profile to embed (see the module's rules).

    ``gray_kept``: whether the output format stores gray pixels as gray (JPEG, PNG), so that a
    gray profile still describes them.
    """
    if profile is None or profile.colour_space != _SPACE_OF_MODE.get(im.mode):
        return im, None
    fits_output = profile.colour_space == "RGB" or gray_kept
    if fits_output and len(profile.data) <= MAX_KEPT_BYTES:
        return (im, profile.data) if _converts(profile.data) else (im, None)
    try:
        return to_srgb(im, profile), None
    except CMS_ERRORS:
        return im, None


@functools.lru_cache(maxsize=128)
def _converts(data: bytes) -> bool:
    """Whether lcms builds a transform from this (small) profile to sRGB: it reads tags only when
    used, and skips those outside the profile, so opening one proves little. A transform costs
    about 6 ms; the same few profiles (sRGB, Display P3 ...) come with most pictures, hence the cache.
    """
    try:
        cms = ImageCms.ImageCmsProfile(io.BytesIO(data))
        in_mode = "L" if cms.profile.xcolor_space.strip() == "GRAY" else "RGB"
        ImageCms.buildTransform(cms, ImageCms.createProfile("sRGB"), in_mode, "RGB")
    except CMS_ERRORS:
        return False
    return True


def to_srgb(im: Image.Image, profile: Profile) -> Image.Image:
    """The pixels converted from ``profile`` to sRGB (RGB, or RGBA keeping the alpha channel).

    Raises one of ``CMS_ERRORS`` when lcms cannot convert from it.
    """
    alpha = im.getchannel("A") if im.mode in ("LA", "RGBA") else None
    colour = im.convert(im.mode[:-1]) if alpha is not None else im
    converted = ImageCms.profileToProfile(colour, profile.cms, ImageCms.createProfile("sRGB"), outputMode="RGB")
    if converted is None:  # only with inPlace=True
        raise ImageCms.PyCMSError("lcms gave no image")
    if alpha is not None:
        converted.putalpha(alpha)
    return converted
