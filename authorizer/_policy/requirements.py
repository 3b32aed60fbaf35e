"""What a function requires of its caller, as one table per caller kind, checked on every call."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from .._settings.app_settings import GUID
from .._token.principal import CallerKind, Principal, caller_kind, check_client
from .permissions import ScopePermissions, names_ok
from .refusals import Rule, refusal

# Conditional Access authentication context ids: c1 to c99.
AUTH_CONTEXT = re.compile(r"c[1-9][0-9]?")


# The policy as one table: which listed requirement kinds apply to each kind of caller. A kind
# listed on a function must hold for every caller it applies to, and a caller to whom no listed
# kind applies is refused; so an app role in a user token never stands in for an application
# permission, scopes and groups never apply to an app, and an app can never meet a step-up.
APPLIES_TO: Mapping[CallerKind, frozenset[str]] = {
    CallerKind.DELEGATED: frozenset({"scopes", "roles", "groups", "permissions", "auth_context"}),
    CallerKind.APP_ONLY: frozenset({"app_roles", "permissions"}),
    CallerKind.NEITHER: frozenset(),
}
# The order refusals are explained in: what only an administrator can grant first, then what a new
# token can fetch (a scope), then the step-up, so a client never steps up only to be refused.
KINDS = ("roles", "groups", "app_roles", "permissions", "scopes", "auth_context")
# Principals remembered as passing, per requirement (each kept alive while remembered).
PASSED_MEMO_SIZE = 4096


@dataclass(frozen=True)
class Requirement:
    """Each kind listed must hold for every caller it applies to; within a kind any one name suffices."""

    scopes: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    app_roles: frozenset[str] = frozenset()
    permissions: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    auth_context: str | None = None
    # Only with nothing listed: app-only callers pass too (delegated callers always do then).
    allow_app_only: bool = False
    # B2B guests of the token's tenant pass too; by default they are refused.
    allow_guests: bool = False
    permission_map: ScopePermissions | None = None
    # The client apps (azp / appid) this function admits, whoever calls through them; empty: any.
    # Not a requirement kind: it admits no one by itself, it narrows who the table admits.
    clients: frozenset[str] = frozenset()
    # Derived once from the table, per caller kind: the rules to meet, or None when refused outright.
    rules: Mapping[CallerKind, tuple[Rule, ...] | None] = field(
        init=False, default_factory=dict, compare=False, repr=False
    )
    delegated_scopes: tuple[str, ...] = field(init=False, default=())
    # Principals that passed, by identity: a repeat of a cached token is answered by a dictionary lookup.
    _passed: dict[int, Principal] = field(init=False, default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        holdings: dict[str, Callable[[Principal], frozenset[str]]] = {
            "scopes": _scopes_of,
            "roles": _roles_of,
            "app_roles": _roles_of,
            "groups": _groups_of,
            "permissions": self._effective,
            "auth_context": _auth_contexts_of,
        }
        listed = self.listed()
        rules: dict[CallerKind, tuple[Rule, ...] | None] = {}
        for caller, applicable in APPLIES_TO.items():
            if not listed:
                admitted = caller is CallerKind.DELEGATED or (caller is CallerKind.APP_ONLY and self.allow_app_only)
                rules[caller] = () if admitted else None
                continue
            kinds = [kind for kind in KINDS if kind in listed and kind in applicable]
            rules[caller] = tuple((kind, self.names(kind), holdings[kind]) for kind in kinds) if kinds else None
        object.__setattr__(self, "rules", rules)
        scopes = set(self.scopes)
        if self.permissions and self.permission_map is not None:
            scopes |= self.permission_map.scopes_implying(self.permissions)
        object.__setattr__(self, "delegated_scopes", tuple(sorted(scopes)))

    def names(self, kind: str) -> frozenset[str]:
        if kind == "auth_context":
            return frozenset({self.auth_context}) if self.auth_context else frozenset()
        value: frozenset[str] = getattr(self, kind)
        return value

    def listed(self) -> list[str]:
        return [kind for kind in KINDS if self.names(kind)]

    def challenge_scopes(self) -> tuple[str, ...]:
        """The delegated scopes that would satisfy this requirement, for challenges and hints."""
        return self.delegated_scopes

    def check(self, principal: Principal) -> None:
        """Return when the caller satisfies this requirement.

        Raises:
            Forbidden: a subclass saying what is missing and who can grant it.
            AuthContextRequired: a step-up the token does not carry.
        """
        passed = self._passed
        # The same principal object (a repeat of its token) passed before: the answer cannot differ, for
        # the requirement and the principal are both immutable. Kept by identity, with the object itself.
        if passed.get(id(principal)) is principal:
            return
        if self.clients:
            check_client(principal, self.clients, app_wide=False)
        kind = caller_kind(principal)
        rules = self.rules[kind]
        # A guest carries its host tenant's tid: without this, guests would cross the tenant boundary.
        guest_refused = principal.is_guest and not self.allow_guests and kind is CallerKind.DELEGATED
        if guest_refused or rules is None:
            raise refusal(
                self, principal, kind, guest_refused, [rule for rule in rules or () if _fails(rule, principal)]
            )
        # A plain loop and isdisjoint, not any() and "&": this runs on every first sighting.
        for _, names, held in rules:
            if names.isdisjoint(held(principal)):
                raise refusal(self, principal, kind, False, [rule for rule in rules if _fails(rule, principal)])
        if len(passed) >= PASSED_MEMO_SIZE:
            passed.clear()
        passed[id(principal)] = principal

    def _effective(self, principal: Principal) -> frozenset[str]:
        if self.permission_map is None:
            return frozenset()
        return self.permission_map.effective(principal)


def _fails(rule: Rule, principal: Principal) -> bool:
    _, names, held = rule
    return names.isdisjoint(held(principal))


def _scopes_of(principal: Principal) -> frozenset[str]:
    return principal.scopes


def _roles_of(principal: Principal) -> frozenset[str]:
    return principal.roles


def _groups_of(principal: Principal) -> frozenset[str]:
    return principal.groups


def _auth_contexts_of(principal: Principal) -> frozenset[str]:
    return principal.auth_contexts


def build_requirement(
    *,
    scopes: Iterable[str],
    roles: Iterable[str],
    app_roles: Iterable[str],
    permissions: Iterable[str],
    groups: Iterable[str] = (),
    auth_context: str | None = None,
    allow_app_only: bool,
    allow_guests: bool = False,
    permission_map: ScopePermissions | None,
    clients: Iterable[str] = (),
) -> Requirement:
    """Build and check a requirement at decoration time.

    Raises:
        TypeError: a bare string was passed where a list of names belongs.
        ValueError: an empty or malformed name, permissions without a mapping, an authentication
            context that is not c1-c99, allow_app_only beside a requirement, or a client that is not
            a client id (a GUID).
    """
    lists = {"scopes": scopes, "roles": roles, "app_roles": app_roles, "permissions": permissions, "groups": groups}
    frozen: dict[str, frozenset[str]] = {}
    for label, names in lists.items():
        # require_auth(scopes="Orders.Read") would otherwise mean {"O", "r", ...}.
        if isinstance(names, str):
            raise TypeError(f"require_auth({label}=...) takes a list of names, not a string")
        frozen[label] = frozenset(names)
        if not names_ok(frozen[label]):
            raise ValueError(f"require_auth({label}=...) has an empty or malformed name")
    if isinstance(clients, str):
        raise TypeError("require_auth(clients=...) takes a list of client ids, not a string")
    client_ids = frozenset(str(client).lower() for client in clients)
    if not all(GUID.fullmatch(client) for client in client_ids):
        raise ValueError("require_auth(clients=...) takes client ids (application ids, GUIDs)")
    if auth_context is not None and (not isinstance(auth_context, str) or not AUTH_CONTEXT.fullmatch(auth_context)):
        raise ValueError("require_auth(auth_context=...) takes one authentication context id, c1 to c99")
    listed = [label for label in KINDS if frozen.get(label) or (label == "auth_context" and auth_context)]
    # allow_app_only beside a requirement once admitted app-only callers that met none of it.
    if allow_app_only and listed:
        raise ValueError(
            f"require_auth(allow_app_only=True) admits app-only callers only to a function that lists no "
            f"requirement, and this one lists {', '.join(listed)}. Drop allow_app_only and say what an app-only "
            "caller needs with app_roles=[...] (or permissions=[...])."
        )
    if frozen["permissions"] and permission_map is None:
        raise ValueError(
            "require_auth(permissions=...) needs the app-wide mapping: call "
            "authorizer.define_permissions({...}) before decorating"
        )
    return Requirement(
        auth_context=auth_context,
        allow_app_only=allow_app_only,
        allow_guests=allow_guests,
        permission_map=permission_map if frozen["permissions"] else None,
        clients=client_ids,
        **frozen,
    )
