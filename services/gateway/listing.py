"""listFiles arguments as a catalog ListRequest: limits and every filter. Pure functions.

Every given filter must hold (arguments and ``where`` alike). The admin app sends empty lists for
filters it does not use (``types: []``, ``tags: []``): an empty list is no filter. Cursors are the
catalog's own opaque strings, passed through (the catalog refuses ones it did not hand out).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from typing import Any

from services.gateway.catalog.model import ListFilter, ListRequest
from services.gateway.tags import normalize_filter_tags
from shared.errors import ValidationFailed

DEFAULT_LIMIT = 40
MAX_LIMIT = 100
MAX_SEARCH_LENGTH = 200
# one request's filter lists (each list, before de-duplication): enough for any UI, bounded work
MAX_TYPES = 50
MAX_TAG_FILTERS = 50
MAX_IDS = 1000
# "image/png", "image/*" or "*/*"; lowercase after normalization
_TYPE_PATTERN_RE = re.compile(r"^([a-z0-9][a-z0-9!#$&^_.+-]{0,126}|\*)/([a-z0-9][a-z0-9!#$&^_.+-]{0,126}|\*)$")


def build_list_request(args: Mapping[str, Any], *, owner: str | None) -> ListRequest:
    """Turn the GraphQL arguments of listFiles into a ListRequest; ValidationFailed for bad input."""
    limit = args.get("limit")
    if limit is None:
        limit = DEFAULT_LIMIT
    if limit < 1:
        raise _invalid("limit", "TOO_SMALL", "limit must be at least 1.")
    limit = min(limit, MAX_LIMIT)
    after = args.get("after") or None
    where: Mapping[str, Any] = args.get("where") or {}
    for field, given, most in (
        ("types", args.get("types"), MAX_TYPES),
        ("where.type_in", where.get("type_in"), MAX_TYPES),
        ("tags", args.get("tags"), MAX_TAG_FILTERS),
        ("where.tag_in", where.get("tag_in"), MAX_TAG_FILTERS),
        ("where.tag_and_in", where.get("tag_and_in"), MAX_TAG_FILTERS),
        ("ids", args.get("ids"), MAX_IDS),
        ("where.id_in", where.get("id_in"), MAX_IDS),
    ):
        if given is not None and len(given) > most:
            raise _invalid(field, "TOO_MANY", f"{field} may list at most {most} values.")

    types: tuple[str, ...] | None = None
    for field, given in (
        ("types", args.get("types")),
        ("where.type", [where["type"]] if where.get("type") else None),
        ("where.type_in", where.get("type_in")),
    ):
        if given:
            wanted = type_patterns(given, field)
            types = wanted if types is None else intersect_types(types, wanted)

    ids: tuple[str, ...] | None = None
    for given in (args.get("ids"), where.get("id_in")):
        if given:
            wanted_ids = tuple(dict.fromkeys(str(i) for i in given if i is not None))
            ids = wanted_ids if ids is None else tuple(i for i in ids if i in wanted_ids)

    tags_all = normalize_filter_tags(
        [*(args.get("tags") or ()), *([where["tag"]] if where.get("tag") else ()), *(where.get("tag_and_in") or ())]
    )
    matches_nothing = types == ()
    return ListRequest(
        filter=ListFilter(
            search=_search(args.get("search"), where.get("search")),
            types=types or (),
            tags_all=tags_all,
            tags_any=normalize_filter_tags(where.get("tag_in")),
            tag_starts_with=_prefix(where.get("tag_startsWith")),
            tag_not_starts_with=_prefix(where.get("tag_not_startsWith")),
            ids=() if matches_nothing else ids,
            created_by=where.get("createdBy") or None,
            owner=owner,
        ),
        limit=limit,
        after=after,
    )


def type_patterns(given: Iterable[Any], field: str = "types") -> tuple[str, ...]:
    """Lowercased MIME types or wildcards (``image/*``); ValidationFailed for anything else."""
    out: list[str] = []
    for item in given:
        if item is None:
            continue
        pattern = str(item).strip().lower()
        if not _TYPE_PATTERN_RE.match(pattern):
            raise _invalid(field, "INVALID", f"{item!r} is not a MIME type or a wildcard such as image/*.")
        out.append(pattern)
    return tuple(dict.fromkeys(out))


def intersect_types(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    """Patterns matching what both lists match (``image/*`` and ``image/png``: ``image/png``)."""
    out: list[str] = []
    for a in first:
        for b in second:
            if fnmatch.fnmatchcase(a, b):
                out.append(a)
            elif fnmatch.fnmatchcase(b, a):
                out.append(b)
    return tuple(dict.fromkeys(out))


def _search(*terms: Any) -> str | None:
    """The argument wins over ``where.search`` (the admin app sends one of them)."""
    for term in terms:
        if isinstance(term, str) and term.strip():
            text = " ".join(term.split())
            if len(text) > MAX_SEARCH_LENGTH:
                raise _invalid("search", "TOO_LONG", f"search may have at most {MAX_SEARCH_LENGTH} characters.")
            return text
    return None


def _prefix(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.lower()
    return None


def _invalid(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, data={"invalidFields": {field: {"code": code, "message": message, "data": None}}})
