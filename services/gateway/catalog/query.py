"""``ListFilter`` -> a SQL condition over the ``files`` table with numbered parameters. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.gateway.catalog.model import ListFilter


def like_escape(text: str) -> str:
    """Escape LIKE's wildcards (the default escape character is the backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def type_patterns(types: tuple[str, ...]) -> tuple[list[str], list[str]] | None:
    """Exact types and LIKE patterns (``image/*`` -> ``image/%``); None when one matches every type."""
    exact: list[str] = []
    patterns: list[str] = []
    for raw in types:
        value = raw.strip().lower()
        if value in ("*", "*/*"):
            return None
        if "*" in value:
            patterns.append("%".join(like_escape(part) for part in value.split("*")))
        else:
            exact.append(value)
    return exact, patterns


@dataclass
class Where:
    """Conditions joined with AND, and their parameters ($1, $2, ... in order)."""

    conditions: list[str] = field(default_factory=lambda: ["status = 'ready'"])
    params: list[Any] = field(default_factory=list)

    def param(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"

    def add(self, condition: str) -> None:
        self.conditions.append(condition)

    @property
    def sql(self) -> str:
        return " AND ".join(self.conditions)


def build_where(spec: ListFilter) -> Where:
    where = Where()
    if spec.owner is not None:
        where.add(f"created_by = {where.param(spec.owner)}")
    if spec.created_by is not None:
        where.add(f"created_by = {where.param(spec.created_by)}")
    if spec.ids is not None:
        where.add(f"id = ANY({where.param(list(spec.ids))}::text[])")
    if spec.search:
        where.add(f"name ILIKE {where.param('%' + like_escape(spec.search) + '%')}")
    if spec.types:
        split = type_patterns(spec.types)
        if split is not None:
            exact, patterns = split
            either = []
            # Types are stored lowercase (the store lowercases them), so the column's statistics
            # tell the planner how selective a type filter is.
            if exact:
                either.append(f"type = ANY({where.param(exact)}::text[])")
            if patterns:
                either.append(f"type LIKE ANY({where.param(patterns)}::text[])")
            where.add("(" + " OR ".join(either) + ")")
    if spec.tags_all:
        where.add(f"tags @> {where.param(list(spec.tags_all))}::text[]")
    if spec.tags_any:
        where.add(f"tags && {where.param(list(spec.tags_any))}::text[]")
    if spec.tag_starts_with:
        where.add(f"{JOINED_TAGS} LIKE {where.param(tag_prefix_pattern(spec.tag_starts_with))}")
    if spec.tag_not_starts_with:
        where.add(f"{JOINED_TAGS} NOT LIKE {where.param(tag_prefix_pattern(spec.tag_not_starts_with))}")
    return where


# "Some tag starts with p" as one LIKE over the tags joined with U+001F, which no stored tag
# contains (the API layer collapses whitespace, and U+001F is whitespace to Python): an order of
# magnitude cheaper per row than a subquery over unnest(tags), which matters for counting.
JOINED_TAGS = r"(E'\x1f' || array_to_string(tags, E'\x1f'))"


def tag_prefix_pattern(prefix: str) -> str:
    return "%\x1f" + like_escape(prefix) + "%"
