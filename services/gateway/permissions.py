"""Who may do what to which records: scopes and ownership. Pure functions.

``files:read``, ``files:write`` and ``files:delete`` act on every record; ``files:read:own``,
``files:write:own`` and ``files:delete:own`` only on records the caller created (``createdBy`` =
the token's ``sub``). ``files:*`` grants everything, ``files:settings`` changes the settings.
A record outside the caller's reach is treated as absent (NOT_FOUND), never as FORBIDDEN:
FORBIDDEN means the token lacks the scope for the operation altogether.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from services.gateway.auth import DELETE, READ, SETTINGS, WRITE, Principal
from shared.errors import Forbidden


class Action(Enum):
    READ = READ
    WRITE = WRITE
    DELETE = DELETE

    @property
    def own_scope(self) -> str:
        return f"{self.value}:own"


@dataclass(frozen=True)
class Access:
    """What an operation may touch: ``owner`` None = every record, else only that creator's."""

    subject: str
    owner: str | None

    def may_touch(self, created_by: str | None) -> bool:
        return self.owner is None or created_by == self.owner


def access(principal: Principal, action: Action) -> Access:
    """The caller's reach for ``action``; Forbidden when it holds neither the full nor the own scope."""
    if principal.can(action.value):
        return Access(subject=principal.subject, owner=None)
    if principal.can(action.own_scope):
        return Access(subject=principal.subject, owner=principal.subject)
    raise Forbidden(
        f"The token lacks the scope {action.value} (or {action.own_scope}).",
        data={"requiredScope": action.value},
    )


def require_settings(principal: Principal) -> None:
    if not principal.can(SETTINGS):
        raise Forbidden(f"The token lacks the scope {SETTINGS}.", data={"requiredScope": SETTINGS})


def require_any_file_scope(principal: Principal) -> None:
    """Reading the settings: any file scope (uploaders need the size limit, readers the srcPrefix)."""
    if any(principal.can(s) for a in Action for s in (a.value, a.own_scope)) or principal.can(SETTINGS):
        return
    raise Forbidden("The token has no files scope.", data={"requiredScope": READ})
