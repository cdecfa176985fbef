"""Scopes and ownership: the full scope reaches every record, the :own scope only the caller's."""

from __future__ import annotations

import pytest

from services.gateway.auth import Principal
from services.gateway.permissions import Action, access, require_any_file_scope, require_settings
from shared.errors import Forbidden


def who(scopes: str, sub: str = "alice") -> Principal:
    return Principal(subject=sub, scopes=frozenset(scopes.split()))


@pytest.mark.parametrize("action", list(Action))
def test_full_scope_reaches_every_record(action: Action) -> None:
    reach = access(who(action.value), action)
    assert reach.owner is None and reach.may_touch("bob") and reach.may_touch(None)


@pytest.mark.parametrize("action", list(Action))
def test_own_scope_reaches_only_the_callers_records(action: Action) -> None:
    reach = access(who(f"{action.value}:own"), action)
    assert reach.owner == "alice" and reach.subject == "alice"
    assert reach.may_touch("alice") and not reach.may_touch("bob") and not reach.may_touch(None)


def test_the_full_scope_wins_over_the_own_one() -> None:
    assert access(who("files:read:own files:read"), Action.READ).owner is None
    assert access(who("files:*"), Action.DELETE).owner is None


def test_without_either_scope_it_is_forbidden() -> None:
    with pytest.raises(Forbidden) as caught:
        access(who("files:read files:write:own"), Action.DELETE)
    assert caught.value.data == {"requiredScope": "files:delete"}
    with pytest.raises(Forbidden):
        access(who("files:read:own"), Action.WRITE)


def test_settings_scopes() -> None:
    require_settings(who("files:settings"))
    require_settings(who("files:*"))
    with pytest.raises(Forbidden):
        require_settings(who("files:read files:write files:delete"))
    for scopes in ("files:read", "files:write:own", "files:settings"):
        require_any_file_scope(who(scopes))
    with pytest.raises(Forbidden):
        require_any_file_scope(who("profile:read"))
