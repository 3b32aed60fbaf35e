"""The validated caller, as a function receives it."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from .errors import InvalidClaim

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
        roles_claim = claims.get("roles")
        if roles_claim is None:
            roles: frozenset[str] = frozenset()
        elif type(roles_claim) is list and set(map(type, roles_claim)) <= _ONLY_TEXT:
            roles = frozenset(roles_claim)
        else:
            raise InvalidClaim("The access token has a malformed roles claim.")
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
        return cls(claims["tid"], scopes, roles, is_app_only, claims["ver"], _read_only(claims))

    @property
    def is_delegated(self) -> bool:
        """A user signed in through a client app that was granted delegated scopes."""
        return bool(self.scopes) and not self.is_app_only

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

    def _text(self, name: str) -> str | None:
        value = self.claims.get(name)
        return value if type(value) is str and value else None

    def __repr__(self) -> str:
        # Never the claim set: a principal can end up in a log line.
        return f"Principal(oid={self.oid!r}, tid={self.tid!r}, client_app_id={self.client_app_id!r})"


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
        return tuple(_freeze(item) for item in value)
    return value
