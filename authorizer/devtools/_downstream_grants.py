"""The local issuer's grants for a confidential client: on-behalf-of, and client credentials with a credential.

On-behalf-of takes the token a user presented to an API (the assertion), checks it is this issuer's,
current and meant for that API, and answers with a token for the downstream scopes, or with the
refusal Entra would give: consent not granted (AADSTS65001) or a step-up the downstream resource
demands (AADSTS50076, with the claims to ask the user for). A token's satisfied authentication
contexts (acrs) carry over, as the user's session does in Entra.
"""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Any

import jwt

from ._clients import Registrations
from ._entra_shape import LIFETIME_SECONDS, ClaimsRequest, issuer_for
from ._oauth_error import OAuthError
from ._signing import SigningKeys, b64url

OBO_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
OIDC_SCOPES = frozenset({"openid", "profile", "offline_access"})


def resource_of(scopes: list[str]) -> tuple[str, list[str]]:
    """The one resource the scopes belong to, and their names under it.

    Raises:
        OAuthError: scopes of several resources, or a scope with no resource.
    """
    resources = {scope.rpartition("/")[0] for scope in scopes}
    if len(resources) != 1 or "" in resources:
        raise OAuthError(
            "invalid_scope",
            "AADSTS70011: the scopes must all name one resource, such as https://graph.microsoft.com/User.Read",
        )
    return resources.pop(), [scope.rpartition("/")[2] for scope in scopes]


def on_behalf_of(
    form: dict[str, str], client_id: str, keys: SigningKeys, base_url: str, registrations: Registrations, now: int
) -> dict[str, Any]:
    """The answer to an on-behalf-of request from ``client_id``, which has proved itself."""
    if form.get("requested_token_use") != "on_behalf_of":
        raise OAuthError("invalid_request", "AADSTS50027: requested_token_use must be on_behalf_of")
    user = _user_assertion(form.get("assertion", ""), client_id, keys)
    scopes = [scope for scope in form.get("scope", "").split() if scope not in OIDC_SCOPES]
    resource, names = resource_of(scopes)
    for scope in scopes:
        if not registrations.consented(client_id, scope):
            raise OAuthError(
                "invalid_grant",
                f"AADSTS65001: The user or administrator has not consented to use the application with ID "
                f"'{client_id}' for {scope}.",
                error_codes=[65001],
                suberror="consent_required",
            )
        context = registrations.auth_context_for(scope)
        if context is not None and context not in user.get("acrs", []):
            # The downstream resource's Conditional Access wants more than this session has met.
            raise OAuthError(
                "invalid_grant",
                "AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a "
                "new location, you must use multi-factor authentication to access the downstream resource.",
                error_codes=[50076],
                suberror="basic_action",
                claims=json.dumps({"access_token": {"acrs": {"essential": True, "value": context}}}),
            )
    tenant, oid = str(user["tid"]), str(user["oid"])
    claims: dict[str, Any] = {
        **_issued(base_url, tenant, resource, now),
        "oid": oid,
        "sub": f"{oid}-{client_id}"[:43],
        "azp": client_id,
        "idtyp": "user",
        "scp": " ".join(names),
        "ver": "2.0",
        "uti": uuid.uuid4().hex,
        **{name: user[name] for name in ("name", "preferred_username", "acrs") if name in user},
    }
    capabilities = ClaimsRequest.parse(form.get("claims")).client_capabilities
    if capabilities:
        claims["xms_cc"] = list(capabilities)
    answer = _answer(keys, claims, scopes)
    if "openid" in form.get("scope", "").split():
        id_claims = {**claims, "aud": client_id, "sub": claims["sub"]}
        for name in ("scp", "azp", "idtyp", "acrs", "xms_cc", "uti"):
            id_claims.pop(name, None)
        answer["id_token"] = keys.sign(id_claims)
    answer["client_info"] = b64url(json.dumps({"uid": oid, "utid": tenant}).encode())
    answer["refresh_token"] = secrets.token_urlsafe(32)
    return answer


def app_token(
    form: dict[str, str], client_id: str, tenant: str, keys: SigningKeys, base_url: str, now: int
) -> dict[str, Any]:
    """Client credentials for a client that proved itself: an app-only token for the resource of its .default scope."""
    scopes = form.get("scope", "").split()
    resource, _ = resource_of(scopes)
    # The client's service principal in this tenant: a stable id of its own.
    service_principal = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}/{client_id}"))
    claims: dict[str, Any] = {
        **_issued(base_url, tenant, resource, now),
        "oid": service_principal,
        "sub": service_principal,
        "azp": client_id,
        "idtyp": "app",
        "ver": "2.0",
        "uti": uuid.uuid4().hex,
    }
    roles = [name for name in form.get("dev_app_roles", "").split(",") if name]
    if roles:
        claims["roles"] = roles
    return _answer(keys, claims, scopes)


def managed_identity_token(resource: str, keys: SigningKeys, base_url: str, now: int) -> dict[str, Any]:
    """What App Service's identity endpoint answers, for the development managed identity."""
    from ._clients import DEV_MANAGED_IDENTITY_CLIENT_ID, DEV_MANAGED_IDENTITY_OID
    from ._state import HOME_TENANT

    claims = {
        **_issued(base_url, HOME_TENANT, resource, now),
        "oid": DEV_MANAGED_IDENTITY_OID,
        "sub": DEV_MANAGED_IDENTITY_OID,
        "azp": DEV_MANAGED_IDENTITY_CLIENT_ID,
        "idtyp": "app",
        "ver": "2.0",
    }
    return {
        "access_token": keys.sign(claims),
        "expires_on": str(now + LIFETIME_SECONDS),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": DEV_MANAGED_IDENTITY_CLIENT_ID,
    }


def _user_assertion(assertion: str, client_id: str, keys: SigningKeys) -> dict[str, Any]:
    """The verified claims of the user token an API exchanges: this issuer's, current, for that API.

    Raises:
        OAuthError: as Entra refuses an assertion (AADSTS50013, AADSTS500133).
    """
    try:
        kid = str(jwt.get_unverified_header(assertion).get("kid"))
        claims: dict[str, Any] = jwt.decode(
            assertion, keys.public_key(kid), algorithms=["RS256"], audience=[client_id, f"api://{client_id}"]
        )
    except jwt.ExpiredSignatureError:
        raise OAuthError(
            "invalid_grant", "AADSTS500133: Assertion is not within its valid time range.", error_codes=[500133]
        ) from None
    except (jwt.PyJWTError, KeyError):
        raise OAuthError(
            "invalid_grant", "AADSTS50013: Assertion failed signature validation.", error_codes=[50013]
        ) from None
    if not claims.get("scp"):
        raise OAuthError(
            "invalid_grant", "AADSTS50013: The assertion is no user's delegated token.", error_codes=[50013]
        )
    return claims


def _issued(base_url: str, tenant: str, resource: str, now: int) -> dict[str, Any]:
    """The claims every v2 token of this issuer opens with: who issued it, for what, and when."""
    return {
        "iss": issuer_for(base_url, tenant, "2.0"),
        "aud": resource,
        "iat": now,
        "nbf": now,
        "exp": now + LIFETIME_SECONDS,
        "tid": tenant,
    }


def _answer(keys: SigningKeys, claims: dict[str, Any], scopes: list[str]) -> dict[str, Any]:
    return {
        "token_type": "Bearer",
        "scope": " ".join(scopes),
        "expires_in": LIFETIME_SECONDS,
        "ext_expires_in": LIFETIME_SECONDS,
        "access_token": keys.sign(claims),
    }
