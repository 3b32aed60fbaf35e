"""Entra-shaped claim sets for v1 and v2, delegated and app-only tokens."""

from __future__ import annotations

import uuid
from typing import Any

HOME_TENANT = "11111111-1111-4111-8111-111111111111"
PARTNER_TENANT = "22222222-2222-4222-8222-222222222222"
STRANGER_TENANT = "33333333-3333-4333-8333-333333333333"
CLIENT_ID = "aaaaaaaa-0000-4000-8000-00000000a91e"
SPA_CLIENT_ID = "bbbbbbbb-0000-4000-8000-0000000005ba"
DAEMON_CLIENT_ID = "cccccccc-0000-4000-8000-0000000000dd"
USER_OID = "dddddddd-0000-4000-8000-000000000001"
DAEMON_OID = "eeeeeeee-0000-4000-8000-000000000002"
APP_ID_URI = f"api://{CLIENT_ID}"

V1_ISSUER_TEMPLATE = "https://sts.windows.net/{tenantid}/"


def v2_issuer(base_url: str, tenant: str) -> str:
    return f"{base_url}/{tenant}/v2.0"


def v1_issuer(tenant: str) -> str:
    return V1_ISSUER_TEMPLATE.replace("{tenantid}", tenant)


def claims(
    base_url: str,
    now: float,
    *,
    version: str = "2.0",
    tenant: str = HOME_TENANT,
    scp: str | None = "Orders.Read",
    roles: list[str] | None = None,
    app_only: bool = False,
    lifetime: int = 3600,
    **overrides: Any,
) -> dict[str, Any]:
    """A realistic claim set; keyword overrides replace claims, and a value of None drops one."""
    issued = int(now)
    body: dict[str, Any] = {
        "aud": CLIENT_ID if version == "2.0" else APP_ID_URI,
        "iss": v2_issuer(base_url, tenant) if version == "2.0" else v1_issuer(tenant),
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime,
        "tid": tenant,
        "ver": version,
        "uti": uuid.uuid4().hex,
    }
    if app_only:
        body.update(oid=DAEMON_OID, sub=DAEMON_OID, idtyp="app", roles=roles or [])
        body["azp" if version == "2.0" else "appid"] = DAEMON_CLIENT_ID
    else:
        body.update(oid=USER_OID, sub="user-pairwise-subject", name="Ada Lovelace")
        if version == "2.0":
            body.update(azp=SPA_CLIENT_ID, preferred_username="ada@contoso.example")
        else:
            body.update(appid=SPA_CLIENT_ID, upn="ada@contoso.example", unique_name="ada@contoso.example")
        if scp is not None:
            body["scp"] = scp
        if roles is not None:
            body["roles"] = roles
    for name, value in overrides.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    return body
