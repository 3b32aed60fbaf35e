"""What a function requires of its caller: scopes, user roles, app roles, permissions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .errors import InsufficientScope
from .principal import Principal


@dataclass(frozen=True)
class ScopePermissions:
    """One app-wide mapping from each delegated scope to the app roles it implies."""

    implied_roles: Mapping[str, frozenset[str]]

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Iterable[str]]) -> ScopePermissions:
        """Build the mapping.

        Raises:
            ValueError: a scope or role name is empty or not a string.
        """
        implied = {}
        for scope, roles in mapping.items():
            names = frozenset(roles)
            if not _names_ok([scope, *names]):
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


@dataclass(frozen=True)
class Requirement:
    """Each kind listed must hold; within a kind any one name suffices."""

    scopes: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    app_roles: frozenset[str] = frozenset()
    permissions: frozenset[str] = frozenset()
    allow_app_only: bool = False
    permission_map: ScopePermissions | None = None
    # Derived once: the policy runs on every request.
    has_delegated_rules: bool = field(init=False, default=False)
    has_app_rules: bool = field(init=False, default=False)
    delegated_scopes: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "has_delegated_rules", bool(self.scopes or self.roles or self.permissions))
        object.__setattr__(self, "has_app_rules", bool(self.app_roles or self.permissions))
        scopes = set(self.scopes)
        if self.permissions and self.permission_map is not None:
            scopes |= self.permission_map.scopes_implying(self.permissions)
        object.__setattr__(self, "delegated_scopes", tuple(sorted(scopes)))

    def challenge_scopes(self) -> tuple[str, ...]:
        """The delegated scopes that would satisfy this requirement, for challenges and hints."""
        return self.delegated_scopes

    def check(self, principal: Principal) -> None:
        """Return when the caller satisfies this requirement.

        Raises:
            InsufficientScope: with the delegated scopes that would do.
        """
        if not self._satisfied_by(principal):
            raise InsufficientScope(self.challenge_scopes())

    def _satisfied_by(self, principal: Principal) -> bool:
        # isdisjoint, not "&": this runs on every request and needs no intermediate set.
        if principal.is_app_only:
            if not self.has_app_rules:
                return self.allow_app_only
            # An app's roles are application permissions; scopes never apply to it.
            return (not self.app_roles or not self.app_roles.isdisjoint(principal.roles)) and (
                not self.permissions or not self.permissions.isdisjoint(self._effective(principal))
            )
        if not principal.scopes:
            # Neither scp nor app-only shape (an ID token, say): nothing to authorize with.
            return False
        if not self.has_delegated_rules:
            # app_roles alone make an app-only function; a user's roles never stand in for them.
            return not self.app_roles
        return (
            (not self.scopes or not self.scopes.isdisjoint(principal.scopes))
            and (not self.roles or not self.roles.isdisjoint(principal.roles))
            and (not self.permissions or not self.permissions.isdisjoint(self._effective(principal)))
        )

    def _effective(self, principal: Principal) -> frozenset[str]:
        if self.permission_map is None:
            return frozenset()
        return self.permission_map.effective(principal)


def _names_ok(names: Iterable[object]) -> bool:
    return all(isinstance(name, str) and name and " " not in name for name in names)


def build_requirement(
    *,
    scopes: Iterable[str],
    roles: Iterable[str],
    app_roles: Iterable[str],
    permissions: Iterable[str],
    allow_app_only: bool,
    permission_map: ScopePermissions | None,
) -> Requirement:
    """Build and check a requirement at decoration time.

    Raises:
        TypeError: a bare string was passed where a list of names belongs.
        ValueError: an empty or malformed name, or permissions without a mapping.
    """
    groups = {"scopes": scopes, "roles": roles, "app_roles": app_roles, "permissions": permissions}
    frozen: dict[str, frozenset[str]] = {}
    for label, names in groups.items():
        # require_auth(scopes="Orders.Read") would otherwise mean {"O", "r", ...}.
        if isinstance(names, str):
            raise TypeError(f"require_auth({label}=...) takes a list of names, not a string")
        frozen[label] = frozenset(names)
        if not _names_ok(frozen[label]):
            raise ValueError(f"require_auth({label}=...) has an empty or malformed name")
    if frozen["permissions"]:
        if permission_map is None:
            raise ValueError(
                "require_auth(permissions=...) needs the app-wide mapping: call "
                "authorizer.define_permissions({...}) before decorating"
            )
    return Requirement(
        scopes=frozen["scopes"],
        roles=frozen["roles"],
        app_roles=frozen["app_roles"],
        permissions=frozen["permissions"],
        allow_app_only=allow_app_only,
        permission_map=permission_map if frozen["permissions"] else None,
    )
