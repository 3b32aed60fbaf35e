"""The validated caller, as a function receives it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from enum import Enum
from types import MappingProxyType
from typing import Any, NamedTuple

from .._errors import ClientNotAllowed, InvalidClaim
from .delegation import delegation_for

_NO_NAME = frozenset({""})
_ONLY_TEXT = frozenset({str})
_CONTAINERS = frozenset({list, dict})


class Principal(NamedTuple):
    """Who is calling, from a token that passed every check.

    Immutable throughout, because one principal may serve every repeat of its token. What every
    decision needs is computed once; the rest is read from the verified claims on access.
    """

    tid: str
    scopes: frozenset[str]
    roles: frozenset[str]
    is_app_only: bool
    token_version: str
    # Every claim of the token, read-only all the way down (lists become tuples).
    claims: Mapping[str, Any]
    # Group object ids (the groups claim); see has_group_overage for a list too long to carry.
    groups: frozenset[str] = frozenset()
    # A B2B guest of the token's tenant (acct = 1, or an idp of another tenant): decided by the authenticator.
    is_guest: bool = False

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Principal:
        """Build a principal from verified claims (a claim set without lists or objects is kept, not copied).

        Raises:
            InvalidClaim: scp or roles have the wrong type, or a token claims to be
                app-only while carrying delegated scopes.
        """
        scp = claims.get("scp")
        if scp is None:
            scopes: frozenset[str] = frozenset()
        elif type(scp) is str:
            scopes = frozenset(scp.split(" ")) - _NO_NAME
        else:
            raise InvalidClaim("The access token has a malformed scp claim.")
        roles = _names(claims.get("roles"), "roles")
        groups = _names(claims.get("groups"), "groups")
        identity_type = claims.get("idtyp")
        if scopes and identity_type == "app":
            raise InvalidClaim("The access token is both app-only and delegated.")
        oid = claims.get("oid")
        # Without idtyp (an optional claim in Entra), an app-only token is one whose
        # object id is its own subject: a service principal acting for itself.
        is_app_only = not scopes and (
            identity_type == "app" or (identity_type is None and type(oid) is str and oid == claims.get("sub"))
        )
        # Strings dominate a claim set: only containers are copied into read-only form.
        return cls(claims["tid"], scopes, roles, is_app_only, claims["ver"], _read_only(claims), groups)

    @property
    def is_delegated(self) -> bool:
        """A user signed in through a client app that was granted delegated scopes."""
        return bool(self.scopes) and not self.is_app_only

    @property
    def has_group_overage(self) -> bool:
        """Too many groups for the token: Entra then names a Graph source instead of listing them."""
        names = self.claims.get("_claim_names")
        return self.claims.get("hasgroups") is True or (isinstance(names, Mapping) and "groups" in names)

    @property
    def auth_contexts(self) -> frozenset[str]:
        """The Conditional Access authentication contexts the caller met (acrs)."""
        return _texts(self.claims.get("acrs"))

    @property
    def client_capabilities(self) -> frozenset[str]:
        """What the calling client declared it can handle (xms_cc): "cp1" answers claims challenges."""
        return _texts(self.claims.get("xms_cc"))

    @property
    def oid(self) -> str | None:
        return self._text("oid")

    @property
    def sub(self) -> str | None:
        return self._text("sub")

    @property
    def name(self) -> str | None:
        return self._text("name")

    @property
    def preferred_username(self) -> str | None:
        """preferred_username (v2), or upn / unique_name (v1)."""
        return self._text("preferred_username") or self._text("upn") or self._text("unique_name")

    @property
    def client_app_id(self) -> str | None:
        """The calling client application: azp (v2) or appid (v1)."""
        return self._text("azp") or self._text("appid")

    def acquire_token(self, scopes: Sequence[str]) -> str:
        """An access token for a downstream API (its scopes), on behalf of this signed-in user.

        Entra's on-behalf-of grant, from the token this caller presented, through MSAL with its cache:
        a repeat for the same user and scopes within the token's life makes no request. Call it while
        the protected function runs (``acquire_token_async`` from an async one).

        Raises:
            TypeError: the caller is an application, which has no user to act for.
            DownstreamInteractionRequired, DownstreamConsentRequired: the user must act (consent, MFA);
                left uncaught, the function answers the challenge the client acts on.
            DownstreamUnavailable: Entra cannot be reached in time (503 when left uncaught).
            DownstreamCredentialError: this API's own credential is refused (500, logged).
        """
        if not self.is_delegated:
            raise TypeError(
                "acquire_token acts on behalf of a signed-in user, and this caller is an application acting "
                "as itself: call authorizer.acquire_app_token(...) for the app's own token"
            )
        names = _scope_list(scopes)
        assertion, acquirer = delegation_for(self)
        return acquirer.on_behalf_of(self, assertion, names)

    async def acquire_token_async(self, scopes: Sequence[str]) -> str:
        """``acquire_token`` on a worker thread, so the event loop keeps serving while Entra answers."""
        return await asyncio.to_thread(self.acquire_token, scopes)

    def _text(self, name: str) -> str | None:
        value = self.claims.get(name)
        return value if type(value) is str and value else None

    def __repr__(self) -> str:
        # Never the claim set: a principal can end up in a log line.
        return f"Principal(oid={self.oid!r}, tid={self.tid!r}, client_app_id={self.client_app_id!r})"


class CallerKind(Enum):
    """Who a token speaks for, which decides the requirement kinds that apply to it."""

    DELEGATED = "a user through a client app (scp)"
    APP_ONLY = "an application acting as itself"
    NEITHER = "neither (an ID token, say)"


def check_client(principal: Principal, allowed: frozenset[str], *, app_wide: bool) -> None:
    """Refuse a caller whose client app (azp in v2, appid in v1; a managed identity's too) is not listed.

    Raises:
        ClientNotAllowed: naming the client and where the list is kept.
    """
    client = principal.client_app_id
    # Entra writes client ids in lower case; a list may not.
    if client is None or client.lower() not in allowed:
        raise ClientNotAllowed(client, app_wide=app_wide)


def caller_kind(principal: Principal) -> CallerKind:
    if principal.is_app_only:
        return CallerKind.APP_ONLY
    return CallerKind.DELEGATED if principal.scopes else CallerKind.NEITHER


def _scope_list(scopes: Sequence[str]) -> list[str]:
    """Scopes as a list of names; a bare string ("https://graph.microsoft.com/User.Read") is one scope, not letters."""
    if isinstance(scopes, str):
        raise TypeError("acquire_token takes a list of scopes, not a string")
    names = list(scopes)
    if not names or not all(isinstance(name, str) and name and " " not in name for name in names):
        raise ValueError("acquire_token takes one or more scope names, such as https://graph.microsoft.com/User.Read")
    return names


def _names(value: object, claim: str) -> frozenset[str]:
    """A claim that lists names (roles, groups): a JSON array of strings, or absent.

    Raises:
        InvalidClaim: anything else.
    """
    if value is None:
        return frozenset()
    if type(value) is list and set(map(type, value)) <= _ONLY_TEXT:
        return frozenset(value)
    raise InvalidClaim(f"The access token has a malformed {claim} claim.")


def _texts(value: object) -> frozenset[str]:
    # Read from the read-only claims (a tuple once frozen); anything else counts as nothing met.
    if isinstance(value, tuple | list):
        return frozenset(item for item in value if type(item) is str)
    return frozenset()


def _read_only(claims: Mapping[str, Any]) -> Mapping[str, Any]:
    # One C pass over the value types: most claim sets hold no container and are not copied.
    if _CONTAINERS.isdisjoint(map(type, claims.values())):
        return MappingProxyType(claims)
    return MappingProxyType(
        {name: _freeze(value) if type(value) in _CONTAINERS else value for name, value in claims.items()}
    )


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({key: _freeze(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        # A list of plain values (groups: up to 200 ids) is copied in one C pass, not item by item.
        if _CONTAINERS.isdisjoint(map(type, value)):
            return tuple(value)
        return tuple(_freeze(item) for item in value)
    return value
