"""The validated caller, as a function receives it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .errors import InvalidClaim


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, from a token that passed every check. Read-only."""

    oid: str | None
    tid: str
    sub: str | None
    name: str | None
    preferred_username: str | None
    client_app_id: str | None
    scopes: frozenset[str]
    roles: frozenset[str]
    is_app_only: bool
    token_version: str
    claims: Mapping[str, Any]

    @property
    def is_delegated(self) -> bool:
        """A user signed in through a client app that was granted delegated scopes."""
        return bool(self.scopes) and not self.is_app_only

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Principal:
        """Build a principal from verified claims.

        Raises:
            InvalidClaim: scp or roles have the wrong type, or a token claims to be
                app-only while carrying delegated scopes.
        """
        scopes = _scopes(claims.get("scp"))
        roles = _roles(claims.get("roles"))
        identity_type = claims.get("idtyp")
        oid, sub = _text(claims, "oid"), _text(claims, "sub")
        if scopes and identity_type == "app":
            raise InvalidClaim("The access token is both app-only and delegated.")
        # Without idtyp (an optional claim in Entra), an app-only token is one whose
        # object id is its own subject: a service principal acting for itself.
        is_app_only = not scopes and (
            identity_type == "app" or (identity_type is None and oid is not None and oid == sub)
        )
        return cls(
            oid=oid,
            tid=claims["tid"],
            sub=sub,
            name=_text(claims, "name"),
            preferred_username=(
                _text(claims, "preferred_username") or _text(claims, "upn") or _text(claims, "unique_name")
            ),
            client_app_id=_text(claims, "azp") or _text(claims, "appid"),
            scopes=scopes,
            roles=roles,
            is_app_only=is_app_only,
            token_version=claims["ver"],
            claims=_freeze(claims),
        )


def _text(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and value else None


def _scopes(value: object) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, str):
        raise InvalidClaim("The access token has a malformed scp claim.")
    return frozenset(value.split(" ")) - {""}


def _roles(value: object) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(role, str) for role in value):
        raise InvalidClaim("The access token has a malformed roles claim.")
    return frozenset(value)


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({key: _freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(item) for item in value)
    return value
