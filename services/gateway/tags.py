"""File tags: what a record may carry. Pure functions.

Tags are lowercased (after trimming), de-duplicated keeping the first occurrence's order, and
limited: at most ``MAX_TAGS`` tags of at most ``MAX_TAG_LENGTH`` characters each. Anything else is
``VALIDATION_FAILED`` with ``data.invalidFields.tags`` saying what is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shared.errors import ValidationFailed

MAX_TAGS = 15
MAX_TAG_LENGTH = 50


def normalize_tag(tag: str) -> str:
    return " ".join(tag.split()).lower()


def normalize_tags(raw: Iterable[Any] | None) -> tuple[str, ...]:
    """The tags to store, or ValidationFailed (``invalidFields.tags``) when they break a rule."""
    if raw is None:
        return ()
    if isinstance(raw, str | bytes | dict):
        raise _invalid("INVALID", "tags must be a list of strings.")
    out: list[str] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        if not isinstance(item, str):
            raise _invalid("INVALID", "Every tag must be a string.", index=index)
        tag = normalize_tag(item)
        if not tag:
            raise _invalid("EMPTY", "A tag must not be empty.", index=index)
        if len(tag) > MAX_TAG_LENGTH:
            raise _invalid(
                "TOO_LONG", f"A tag may have at most {MAX_TAG_LENGTH} characters.", index=index, max=MAX_TAG_LENGTH
            )
        if tag not in seen:
            seen.add(tag)
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise _invalid("TOO_MANY", f"A file may have at most {MAX_TAGS} tags.", max=MAX_TAGS, given=len(out))
    return tuple(out)


def normalize_filter_tags(raw: Iterable[Any] | None) -> tuple[str, ...]:
    """Tags used as a filter: normalized like stored ones, blanks and non-strings dropped."""
    if raw is None or isinstance(raw, str):
        return ()
    return tuple(dict.fromkeys(t for t in (normalize_tag(i) for i in raw if isinstance(i, str)) if t))


def _invalid(code: str, message: str, **data: Any) -> ValidationFailed:
    return ValidationFailed(message, data={"invalidFields": {"tags": {"code": code, "message": message, "data": data}}})
