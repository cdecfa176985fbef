"""The work one HTTP request may cause, whatever its shape. Pure.

A request to ``/graphql`` may carry a batch of operations, each with aliases of the same field, and
``getPreSignedPostPayloads`` takes several files: the transport's limits multiply (50 operations x
30 aliases x 20 files), so each alone does not bound the work. One ``RequestBudget`` is made per
HTTP request and shared by every operation of it; each resolver spends from it before it works,
and what is over the budget is refused with ``LIMIT_EXCEEDED`` (``data: {limit, max, given}``) in
that operation's ``error``, while what fitted is answered as usual.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from shared.errors import LimitExceeded


class Cost(Enum):
    """What a request spends; the value is the ``limit`` a refusal names."""

    OPERATIONS = "operationsPerRequest"  # File Manager fields that reach the catalog or S3
    UPLOADS = "uploadsPerRequest"  # upload payloads issued: pre-signed POST forms, multipart uploads
    LISTS = "listsPerRequest"  # listing queries: listFiles, listTags, listTagsWithCount


@dataclass(frozen=True)
class BudgetLimits:
    operations: int
    uploads: int
    lists: int

    def of(self, cost: Cost) -> int:
        return {Cost.OPERATIONS: self.operations, Cost.UPLOADS: self.uploads, Cost.LISTS: self.lists}[cost]


@dataclass
class RequestBudget:
    limits: BudgetLimits
    spent: dict[Cost, int] = field(default_factory=dict)

    def spend(self, cost: Cost, amount: int = 1) -> None:
        """Take ``amount`` of ``cost``, or refuse (LimitExceeded) and take nothing: all or none."""
        given = self.spent.get(cost, 0) + amount
        limit = self.limits.of(cost)
        if given > limit:
            raise LimitExceeded(
                f"One request may cause at most {limit} {_WHAT[cost]}; this one asked for {given}.",
                data={"limit": cost.value, "max": limit, "given": given},
            )
        self.spent[cost] = given


_WHAT = {
    Cost.OPERATIONS: "File Manager operations",
    Cost.UPLOADS: "uploads (pre-signed payloads and multipart uploads)",
    Cost.LISTS: "listing queries",
}
