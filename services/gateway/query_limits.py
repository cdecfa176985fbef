"""A GraphQL validation rule that bounds what one operation may ask for.

Checked before anything executes: the selection depth, the number of fields (fragments expanded,
each spread counted every time it is used) and the number of aliases. A refused operation gets a
GraphQL error with ``extensions.code`` = ``QUERY_TOO_COMPLEX`` (and ``limit``, ``max``, ``given``),
so one request cannot make the gateway resolve an unbounded tree. ``ofType`` (the introspection
type wrapper, one object per level) does not count towards the depth, so that the standard
introspection query stays well below the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
)
from graphql.language import SKIP

CODE = "QUERY_TOO_COMPLEX"
_FLAT_FIELDS = frozenset({"ofType"})


@dataclass(frozen=True)
class QueryLimits:
    max_depth: int = 10
    max_fields: int = 500
    max_aliases: int = 30


@dataclass(frozen=True)
class Cost:
    depth: int = 0
    fields: int = 0
    aliases: int = 0


def measure(document: DocumentNode) -> dict[str, Cost]:
    """The cost of every operation of a document, by name ("" for an anonymous one)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    memo: dict[str, Cost] = {}
    return {
        (op.name.value if op.name else ""): _selection_cost(op.selection_set, fragments, memo, frozenset())
        for op in document.definitions
        if isinstance(op, OperationDefinitionNode)
    }


def _selection_cost(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    memo: dict[str, Cost],
    visiting: frozenset[str],
) -> Cost:
    if selection_set is None:
        return Cost()
    depth = fields = aliases = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            child = _selection_cost(selection.selection_set, fragments, memo, visiting)
            step = 0 if selection.name.value in _FLAT_FIELDS else 1
            depth = max(depth, child.depth + step)
            fields += 1 + child.fields
            aliases += (1 if selection.alias else 0) + child.aliases
            continue
        if isinstance(selection, InlineFragmentNode):
            child = _selection_cost(selection.selection_set, fragments, memo, visiting)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in visiting or name not in fragments:
                continue  # cycles and unknown fragments are reported by graphql's own rules
            if name not in memo:
                memo[name] = _selection_cost(fragments[name].selection_set, fragments, memo, visiting | {name})
            child = memo[name]
        else:  # pragma: no cover - no other selection kinds exist
            continue
        depth = max(depth, child.depth)
        fields += child.fields
        aliases += child.aliases
    return Cost(depth=depth, fields=fields, aliases=aliases)


def limits_rule(limits: QueryLimits) -> type[ASTValidationRule]:
    """A validation rule class (as graphql's ``validation_rules`` wants) enforcing ``limits``."""

    class QueryLimitsRule(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)

        def enter_document(self, node: DocumentNode, *_args: Any) -> Any:
            for name, cost in measure(node).items():
                for limit, maximum, given in (
                    ("depth", limits.max_depth, cost.depth),
                    ("fields", limits.max_fields, cost.fields),
                    ("aliases", limits.max_aliases, cost.aliases),
                ):
                    if given > maximum:
                        label = f"Operation {name}" if name else "The operation"
                        self.report_error(
                            GraphQLError(
                                f"{label} exceeds the {limit} limit ({given} > {maximum}).",
                                extensions={"code": CODE, "limit": limit, "max": maximum, "given": given},
                            )
                        )
            return SKIP

    return QueryLimitsRule
