"""Which format a variant is served in: ``?format=``, else ``Accept`` (when enabled): pure.

- ``?format=webp|avif|jpeg|png`` (``jpg`` too) wins; anything else is 400 ``INVALID_FORMAT``.
- With negotiation on, an ``Accept`` that names ``image/avif`` (then ``image/webp``) with a
  non-zero quality gets that format. Wildcards (``image/*``, ``*/*``) never count: browsers send
  them for every image, including ones that cannot decode AVIF.
- Otherwise the variant keeps the original's format.
"""

from __future__ import annotations

from shared.errors import InvalidFormat
from shared.messages import FORMATS

# Preference order for Accept negotiation: the smallest files first.
NEGOTIABLE: tuple[str, ...] = ("avif", "webp")
_ALIASES = {"jpg": "jpeg", "jpe": "jpeg"}


def requested_format(value: str | None) -> str | None:
    """The format named by ``?format=``, or None when absent; InvalidFormat when unknown."""
    if value is None:
        return None
    name = value.strip().lower()
    name = _ALIASES.get(name, name)
    if name not in FORMATS:
        raise InvalidFormat(f"format must be one of {', '.join(sorted(FORMATS))}.")
    return name


def accepted_types(accept: str | None) -> frozenset[str]:
    """The media types an ``Accept`` header names explicitly with a quality above zero."""
    if not accept:
        return frozenset()
    found: set[str] = set()
    for item in accept.split(","):
        kind, *params = (part.strip() for part in item.split(";"))
        kind = kind.lower()
        if not kind or "*" in kind:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if quality > 0:
            found.add(kind)
    return frozenset(found)


def negotiated_format(accept: str | None) -> str | None:
    """AVIF, then WebP, when the client names it in ``Accept``; None to keep the source's format."""
    types = accepted_types(accept)
    for fmt in NEGOTIABLE:
        if FORMATS[fmt] in types:
            return fmt
    return None
