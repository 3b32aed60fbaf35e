"""Claims shaped like Entra's: v1 and v2 access tokens (delegated and app-only) and ID tokens.

Only what the caller asked for goes in: the scopes requested, the roles given (or the dev user's
own), the app roles and groups given, the authentication context asked for in a claims request.
Tokens are for one API (``ServedApi``): the sample's by default, or an adopter's own registration.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from ._state import API_CLIENT_ID, HOME_TENANT

STRANGER_TENANT = "33333333-3333-4333-8333-333333333333"
GRAPH = "00000003-0000-0000-c000-000000000000"
DAEMON_OID = "eeeeeeee-0000-4000-8000-000000000002"
LIFETIME_SECONDS = 3600


@dataclass(frozen=True)
class ServedApi:
    """The API access tokens are minted for (its app registration's client id) and its users' tenant."""

    client_id: str = API_CLIENT_ID
    tenant: str = HOME_TENANT

    def audience(self, version: str) -> str:
        # As Entra: a v1 token names the Application ID URI, a v2 token the client id.
        return f"api://{self.client_id}" if version == "1.0" else self.client_id

    @property
    def scope_prefix(self) -> str:
        return f"api://{self.client_id}/"


@dataclass(frozen=True)
class DevUser:
    name: str
    oid: str
    display_name: str
    # None: a member of the served API's own tenant.
    tenant: str | None
    roles: tuple[str, ...]
    # A B2B guest of ``tenant`` whose own account lives in this tenant.
    guest_from: str | None = None

    @property
    def username(self) -> str:
        return f"{self.name}@contoso.example"


# Chosen with login_hint (MSAL: loginHint) or username; ada is the default.
DEV_USERS = {
    "ada": DevUser("ada", "dddddddd-0000-4000-8000-000000000001", "Ada Lovelace", None, ("Orders.Writer",)),
    "bob": DevUser("bob", "dddddddd-0000-4000-8000-000000000002", "Bob Builder", None, ()),
    "eve": DevUser("eve", "dddddddd-0000-4000-8000-000000000003", "Eve Outsider", STRANGER_TENANT, ()),
    "gus": DevUser(
        "gus", "dddddddd-0000-4000-8000-000000000004", "Gus Guest", None, ("Orders.Writer",), STRANGER_TENANT
    ),
}


def user_named(hint: str | None) -> DevUser:
    """The dev user a login hint or user name names ("ada@contoso.example", "bob"); ada otherwise."""
    name = (hint or "ada").split("@")[0].lower()
    return DEV_USERS.get(name, DEV_USERS["ada"])


@dataclass(frozen=True)
class ClaimsRequest:
    """What an OIDC claims request (RFC-style JSON, as MSAL.js sends it) asks of the access token."""

    acrs: tuple[str, ...] = ()
    client_capabilities: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: str | None) -> ClaimsRequest:
        """Read {"access_token": {"acrs": {"essential": true, "value": "c1"}, "xms_cc": {"values": ["cp1"]}}}.

        Raises:
            ValueError: not a JSON object.
        """
        if not raw:
            return cls()
        document = json.loads(raw)
        if not isinstance(document, dict):
            raise ValueError("the claims request is not a JSON object")
        # MSAL.js asks for id_token claims too; only what the access token must carry matters here.
        access = document.get("access_token")
        if not isinstance(access, dict):
            return cls()
        return cls(_values(access.get("acrs")), _values(access.get("xms_cc")))


def _values(request: object) -> tuple[str, ...]:
    if not isinstance(request, dict):
        return ()
    values = request.get("values", [request["value"]] if "value" in request else [])
    return tuple(str(value) for value in values if isinstance(value, str))


@dataclass(frozen=True)
class TokenRequest:
    """Who asks for what; every field is what the caller said, nothing is filled in behind its back."""

    client_id: str
    version: str = "2.0"
    tenant: str | None = None
    user: DevUser | None = None
    scopes: tuple[str, ...] = ()
    # None: the dev user's own roles; a tuple (even empty): exactly these.
    roles: tuple[str, ...] | None = None
    app_roles: tuple[str, ...] = ()
    claims: ClaimsRequest = field(default_factory=ClaimsRequest)
    api: ServedApi = field(default_factory=ServedApi)
    # Group object ids for the groups claim; none unless given.
    groups: tuple[str, ...] = ()

    @property
    def app_only(self) -> bool:
        return self.user is None

    @property
    def token_tenant(self) -> str:
        if self.tenant:
            return self.tenant
        return (self.user.tenant if self.user else None) or self.api.tenant


def issuer_for(base_url: str, tenant: str, version: str) -> str:
    return f"https://sts.windows.net/{tenant}/" if version == "1.0" else f"{base_url}/{tenant}/v2.0"


def access_token_claims(base_url: str, request: TokenRequest, now: int) -> dict[str, Any]:
    tenant, version = request.token_tenant, request.version
    claims: dict[str, Any] = {
        "iss": issuer_for(base_url, tenant, version),
        "iat": now,
        "nbf": now,
        "exp": now + LIFETIME_SECONDS,
        "tid": tenant,
        "ver": version,
        "uti": uuid.uuid4().hex,
    }
    client = "appid" if version == "1.0" else "azp"
    api_audience = request.api.audience(version)
    if request.groups:
        claims["groups"] = list(request.groups)
    if request.user is None:
        claims.update(aud=api_audience, oid=DAEMON_OID, sub=DAEMON_OID, idtyp="app", **{client: request.client_id})
        if request.app_roles:
            claims["roles"] = list(request.app_roles)
        return claims
    user = request.user
    claims.update(oid=user.oid, sub=f"{user.oid}-{request.client_id}"[:43], name=user.display_name, idtyp="user")
    prefix = request.api.scope_prefix
    api_scopes = [scope[len(prefix) :] for scope in request.scopes if scope.startswith(prefix)]
    if not api_scopes:
        # No scope of this API: in Entra that is a Microsoft Graph token, not one for this API.
        claims.pop("groups", None)
        claims.update(aud=GRAPH, scp="openid profile User.Read", azp=request.client_id)
        return claims
    claims["aud"] = api_audience
    claims[client] = request.client_id
    if version == "1.0":
        claims.update(upn=user.username, unique_name=user.username)
    else:
        claims["preferred_username"] = user.username
    if user.guest_from is not None:
        # As Entra marks a B2B guest: the account's own tenant as idp, and acct 1 where it is asked for.
        claims.update(acct=1, idp=f"https://sts.windows.net/{user.guest_from}/")
    claims["scp"] = "Orders.Read Orders.Write" if ".default" in api_scopes else " ".join(api_scopes)
    roles = user.roles if request.roles is None else request.roles
    if roles:
        claims["roles"] = list(roles)
    if request.claims.acrs:
        claims["acrs"] = list(request.claims.acrs)
    if request.claims.client_capabilities:
        claims["xms_cc"] = list(request.claims.client_capabilities)
    return claims


def id_token_claims(
    base_url: str, user: DevUser, tenant: str, client_id: str, nonce: str | None, now: int
) -> dict[str, Any]:
    """``tenant``: the user's own (the served API's for its members)."""
    claims: dict[str, Any] = {
        "iss": issuer_for(base_url, tenant, "2.0"),
        "aud": client_id,
        "iat": now,
        "nbf": now,
        "exp": now + LIFETIME_SECONDS,
        "tid": tenant,
        "oid": user.oid,
        "sub": f"{user.oid}-{client_id}"[:43],
        "name": user.display_name,
        "preferred_username": user.username,
        "ver": "2.0",
    }
    if nonce:
        claims["nonce"] = nonce
    return claims
