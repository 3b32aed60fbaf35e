"""OpenID metadata as data: where a tenant's documents live, what they say, and the issuer template. No I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .._settings.app_settings import is_loopback_host
from .fetch import FetchError

# Where a metadata issuer (a multi-tenant one, or a template) holds the token's tenant.
TENANT_PLACEHOLDER = "{tenantid}"


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    issuer: str
    jwks_uri: str
    # The issuer with {tenantid} where the tenant goes; the same as issuer for a multi-tenant document.
    issuer_template: str
    # Where a user signs in interactively: named in a claims challenge.
    authorization_endpoint: str | None = None


def tenant_template(issuer: str, tenant_id: str) -> str:
    """The issuer of a tenant's own metadata, with {tenantid} where that tenant's id stands.

    A single-tenant app reads its home tenant's metadata, whose issuer names the home tenant only.
    Judged against this template, an authentic token of another tenant (its issuer naming its own
    tenant) reaches the tenant policy and its 403, instead of a 401 that sends MSAL.js into a login
    loop. For the home tenant it resolves to the document's issuer, character for character.
    """
    if TENANT_PLACEHOLDER in issuer or tenant_id not in issuer:
        return issuer
    return issuer.replace(tenant_id, TENANT_PLACEHOLDER)


def metadata_url(instance: str, tenant: str, version: str) -> str:
    """The OpenID configuration location for a token version ("1.0" or "2.0")."""
    base = f"{instance}/{tenant}"
    if version == "2.0":
        return f"{base}/v2.0/.well-known/openid-configuration"
    return f"{base}/.well-known/openid-configuration"


def parse_metadata(document: Mapping[str, Any], url: str) -> ProviderMetadata:
    """Take issuer and jwks_uri from a metadata document.

    Raises:
        FetchError: a field is missing, or jwks_uri is not https (plain http only on loopback).
    """
    issuer = document.get("issuer")
    jwks_uri = document.get("jwks_uri")
    if not isinstance(issuer, str) or not issuer or not isinstance(jwks_uri, str):
        raise FetchError(f"metadata at {url} lacks issuer or jwks_uri")
    # Keys over plain http could be swapped by anyone on the path.
    if not _secure(jwks_uri):
        raise FetchError(f"metadata at {url} names a jwks_uri that is not https")
    authorize = document.get("authorization_endpoint")
    authorization_endpoint = authorize if isinstance(authorize, str) and _secure(authorize) else None
    return ProviderMetadata(issuer, jwks_uri, issuer, authorization_endpoint)


def _secure(url: str) -> bool:
    # https, or plain http on this machine only (a local issuer).
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname or ""))
