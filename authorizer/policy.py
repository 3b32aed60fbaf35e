"""What a function requires of its caller: scopes, user roles, app roles, permissions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

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
            TypeError: a bare string where a list of role names belongs.
            ValueError: a scope or role name is empty or not a string.
        """
        implied = {}
        for scope, roles in mapping.items():
            # {"Crm.Read.Team": "Accounts.Read.Team"} would otherwise mean the roles "A", "c", "c", ...
            if isinstance(roles, str):
                raise TypeError(f"define_permissions: the roles of {scope!r} must be a list of names, not a string")
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


class CallerKind(Enum):
    """Who a token speaks for, which decides the requirement kinds that apply to it."""

    DELEGATED = "a user through a client app (scp)"
    APP_ONLY = "an application acting as itself"
    NEITHER = "neither (an ID token, say)"


def caller_kind(principal: Principal) -> CallerKind:
    if principal.is_app_only:
        return CallerKind.APP_ONLY
    return CallerKind.DELEGATED if principal.scopes else CallerKind.NEITHER


# The policy as one table: which listed requirement kinds apply to each kind of caller. A kind
# listed on a function must hold for every caller it applies to, and a caller to whom no listed
# kind applies is refused; so an app role in a user token never stands in for an application
# permission, and scopes never apply to an app.
APPLIES_TO: Mapping[CallerKind, frozenset[str]] = {
    CallerKind.DELEGATED: frozenset({"scopes", "roles", "permissions"}),
    CallerKind.APP_ONLY: frozenset({"app_roles", "permissions"}),
    CallerKind.NEITHER: frozenset(),
}
KINDS = ("scopes", "roles", "app_roles", "permissions")

# What the caller holds for each kind: any one name of the requirement suffices.
Rule = tuple[frozenset[str], Callable[[Principal], frozenset[str]]]


@dataclass(frozen=True)
class Requirement:
    """Each kind listed must hold for every caller it applies to; within a kind any one name suffices."""

    scopes: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    app_roles: frozenset[str] = frozenset()
    permissions: frozenset[str] = frozenset()
    # Only with nothing listed: app-only callers pass too (delegated callers always do then).
    allow_app_only: bool = False
    permission_map: ScopePermissions | None = None
    # Derived once from the table, per caller kind: the rules to meet, or None when refused outright.
    rules: Mapping[CallerKind, tuple[Rule, ...] | None] = field(
        init=False, default_factory=dict, compare=False, repr=False
    )
    delegated_scopes: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        listed = [kind for kind in KINDS if getattr(self, kind)]
        holdings: dict[str, Callable[[Principal], frozenset[str]]] = {
            "scopes": _scopes_of,
            "roles": _roles_of,
            "app_roles": _roles_of,
            "permissions": self._effective,
        }
        rules: dict[CallerKind, tuple[Rule, ...] | None] = {}
        for caller, applicable in APPLIES_TO.items():
            if not listed:
                admitted = caller is CallerKind.DELEGATED or (caller is CallerKind.APP_ONLY and self.allow_app_only)
                rules[caller] = () if admitted else None
                continue
            kinds = [kind for kind in listed if kind in applicable]
            rules[caller] = tuple((getattr(self, kind), holdings[kind]) for kind in kinds) if kinds else None
        object.__setattr__(self, "rules", rules)
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
        rules = self.rules[caller_kind(principal)]
        # isdisjoint, not "&": this runs on every request and needs no intermediate set.
        if rules is None or any(names.isdisjoint(held(principal)) for names, held in rules):
            raise InsufficientScope(self.challenge_scopes())

    def _effective(self, principal: Principal) -> frozenset[str]:
        if self.permission_map is None:
            return frozenset()
        return self.permission_map.effective(principal)


def _scopes_of(principal: Principal) -> frozenset[str]:
    return principal.scopes


def _roles_of(principal: Principal) -> frozenset[str]:
    return principal.roles


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
    listed = [label for label in KINDS if frozen[label]]
    # allow_app_only beside a requirement once admitted app-only callers that met none of it.
    if allow_app_only and listed:
        raise ValueError(
            f"require_auth(allow_app_only=True) admits app-only callers only to a function that lists no "
            f"requirement, and this one lists {', '.join(listed)}. Drop allow_app_only and say what an app-only "
            "caller needs with app_roles=[...] (or permissions=[...])."
        )
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
