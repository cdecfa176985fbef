"""The per-request budget: every operation of one HTTP request spends from it; over it is
LIMIT_EXCEEDED, and a refused spend takes nothing."""

from __future__ import annotations

import pytest

from services.gateway.budget import BudgetLimits, Cost, RequestBudget
from shared.errors import LimitExceeded

LIMITS = BudgetLimits(operations=5, uploads=20, lists=2)


def test_spending_up_to_the_limit_passes_and_beyond_is_refused_with_the_figures() -> None:
    budget = RequestBudget(LIMITS)
    for _ in range(5):
        budget.spend(Cost.OPERATIONS)
    with pytest.raises(LimitExceeded) as refused:
        budget.spend(Cost.OPERATIONS)
    assert refused.value.code == "LIMIT_EXCEEDED" and refused.value.status == 400
    assert refused.value.data == {"limit": "operationsPerRequest", "max": 5, "given": 6}


def test_a_refused_spend_takes_nothing_so_a_smaller_one_still_fits() -> None:
    budget = RequestBudget(LIMITS)
    budget.spend(Cost.UPLOADS, 15)
    with pytest.raises(LimitExceeded) as refused:
        budget.spend(Cost.UPLOADS, 20)  # a second batch of 20 files
    assert refused.value.data == {"limit": "uploadsPerRequest", "max": 20, "given": 35}
    budget.spend(Cost.UPLOADS, 5)
    with pytest.raises(LimitExceeded):
        budget.spend(Cost.UPLOADS)


def test_each_cost_has_its_own_limit() -> None:
    budget = RequestBudget(LIMITS)
    budget.spend(Cost.LISTS, 2)
    budget.spend(Cost.UPLOADS, 20)
    budget.spend(Cost.OPERATIONS, 5)
    for cost, name in ((Cost.LISTS, "listsPerRequest"), (Cost.UPLOADS, "uploadsPerRequest")):
        with pytest.raises(LimitExceeded) as refused:
            budget.spend(cost)
        assert (refused.value.data or {})["limit"] == name


def test_two_requests_have_two_budgets() -> None:
    first, second = RequestBudget(LIMITS), RequestBudget(LIMITS)
    first.spend(Cost.LISTS, 2)
    second.spend(Cost.LISTS, 2)  # nothing carried over
