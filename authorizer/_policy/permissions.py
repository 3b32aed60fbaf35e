"""Effective permissions: the roles a caller may exercise, given the scopes its client was granted."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .._token.principal import Principal


@dataclass(frozen=True)
class ScopePermissions:
    """One app-wide mapping from each delegated scope to the app roles it implies."""

    implied_roles: Mapping[str, frozenset[str]]

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Iterable[str]]) -> ScopePermissions:
        """Build the mapping.

        Raises:
            TypeError: a bare string where a list of role names belongs.
            ValueError: a scope or role name is empty or not a string.
        """
        implied = {}
        for scope, roles in mapping.items():
            # {"Crm.Read.Team": "Accounts.Read.Team"} would otherwise mean the roles "A", "c", "c", ...
            if isinstance(roles, str):
                raise TypeError(f"define_permissions: the roles of {scope!r} must be a list of names, not a string")
            names = frozenset(roles)
            if not names_ok([scope, *names]):
                raise ValueError(f"invalid scope or role name in the permission mapping for {scope!r}")
            implied[scope] = names
        return cls(implied_roles=implied)

    def effective(self, principal: Principal) -> frozenset[str]:
        """Roles the caller may exercise now.

        For a user: the roles they hold that their client's granted scopes imply.
        For an app: the app roles it was granted.
        """
        if principal.is_app_only:
            return principal.roles
        if not principal.is_delegated:
            return frozenset()
        granted = frozenset().union(*(self.implied_roles.get(scope, frozenset()) for scope in principal.scopes))
        return principal.roles & granted

    def scopes_implying(self, permissions: Iterable[str]) -> frozenset[str]:
        wanted = frozenset(permissions)
        return frozenset(scope for scope, roles in self.implied_roles.items() if roles & wanted)


def names_ok(names: Iterable[object]) -> bool:
    """Every name a non-empty string without a space, as scope and role names are."""
    return all(isinstance(name, str) and name and " " not in name for name in names)
