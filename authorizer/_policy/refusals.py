"""A 403 that tells the truth: which kind of requirement the caller misses, and who can grant it.

Only delegated scopes the token does not carry are ever offered as a challenge's scope: what only an
administrator can grant (a role, a group, an application permission, guest access) is named in the
description instead, so that a client following the challenge never loops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .._errors import (
    AppPermissionRequired,
    AuthContextRequired,
    AuthError,
    CallerKindNotAdmitted,
    GroupOverage,
    GroupRequired,
    GuestNotAllowed,
    InsufficientScope,
    PermissionRequired,
    RoleRequired,
)
from .._token.principal import CallerKind, Principal

if TYPE_CHECKING:
    from .requirements import Requirement

# A requirement kind, its names, and what the caller holds of that kind: any one name suffices.
Rule = tuple[str, frozenset[str], Callable[[Principal], frozenset[str]]]
# The client capability that says "I can answer a claims challenge" (xms_cc).
CLAIMS_CHALLENGE_CAPABILITY = "cp1"


def refusal(
    requirement: Requirement, principal: Principal, caller: CallerKind, guest: bool, failed: list[Rule]
) -> AuthError:
    """The error for a caller the requirement refuses; ``failed`` are the rules it misses, in order."""
    if guest:
        return GuestNotAllowed()
    if caller is CallerKind.NEITHER:
        return InsufficientScope(
            requirement.challenge_scopes(),
            "The token carries neither delegated scopes nor an application's identity (an ID token?): "
            "request an access token for this API.",
        )
    if not failed:
        if caller is CallerKind.APP_ONLY:
            return CallerKindNotAdmitted("This operation is for signed-in users; an application cannot call it alone.")
        return CallerKindNotAdmitted(
            "This operation is for applications acting as themselves: its app_roles (application permissions) "
            "admit applications only, never a user holding a role of that name. For signed-in users the API "
            "lists the app role in roles=[...] (or a scope in scopes=[...])."
        )
    kind, names, _ = failed[0]
    listed = ", ".join(sorted(names))
    if kind == "roles":
        return RoleRequired(
            f"The signed-in user holds none of the app roles {listed}; an administrator of the API's tenant "
            "assigns app roles to users or groups (Enterprise applications, Users and groups)."
        )
    if kind == "groups":
        if principal.has_group_overage:
            return GroupOverage(
                "The token names no groups: the user is in too many for it to carry, and this API reads no "
                "groups from Microsoft Graph. Ask an administrator to assign this API's app roles to those "
                "groups, and the API to require the roles."
            )
        return GroupRequired(
            "The signed-in user is in none of the groups this operation requires; a group owner or an "
            "administrator adds members."
        )
    if kind in ("app_roles", "permissions") and caller is CallerKind.APP_ONLY:
        return AppPermissionRequired(
            f"The application holds none of the application permissions {listed}; an administrator grants "
            "them (API permissions, then admin consent)."
        )
    if kind == "permissions":
        return _permission_refusal(requirement, principal, names, listed)
    if kind == "scopes":
        return InsufficientScope(tuple(sorted(names - principal.scopes)))
    context = requirement.auth_context or ""
    return AuthContextRequired(
        context,
        client_can_step_up=CLAIMS_CHALLENGE_CAPABILITY in principal.client_capabilities,
        description=(
            f"This operation requires the authentication context {context} (a stronger sign-in, set by "
            "Conditional Access); the calling app must declare the client capability cp1 to be asked for it."
        ),
    )


def _permission_refusal(
    requirement: Requirement, principal: Principal, wanted: frozenset[str], listed: str
) -> AuthError:
    held = principal.roles & wanted
    mapping = requirement.permission_map
    if held and mapping is not None:
        # The user holds the role: only a scope that implies it is missing, which a new token can fetch.
        missing = mapping.scopes_implying(held) - principal.scopes
        if missing:
            return InsufficientScope(tuple(sorted(missing)))
    return PermissionRequired(
        f"The signed-in user holds none of the roles {listed} with a scope that implies it; an administrator "
        "of the API's tenant assigns app roles to users or groups (Enterprise applications, Users and groups)."
    )
