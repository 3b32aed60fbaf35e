"""OpenID discovery: where the metadata lives, what it says, and the keys it points to."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from .._errors import KeysUnavailable
from .._settings.app_settings import AuthSettings, is_loopback_host
from .._token.validation import TENANT_PLACEHOLDER
from .fetch import FetchError, JsonFetcher
from .jwks import SigningKeys, VerificationKey, parse_jwks
from .refresh import Clock, RefreshingValue, RefreshPolicy, Spawn, Unavailable, spawn_daemon

# Entra's metadata for many tenants: its issuer carries a {tenantid} placeholder.
MULTI_TENANT_AUTHORITY = "organizations"
# The longest pause a key or metadata server may impose, in unknown-kid cooldowns.
KEY_DELAY_COOLDOWNS = 2


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


class Authority:
    """The metadata documents and the signing keys of one Entra authority."""

    def __init__(
        self,
        settings: AuthSettings,
        fetch: JsonFetcher,
        clock: Clock,
        *,
        multi_tenant: bool,
        rng: random.Random | None = None,
        spawn: Spawn = spawn_daemon,
    ) -> None:
        self._fetch = fetch
        tenant = MULTI_TENANT_AUTHORITY if multi_tenant else settings.tenant_id
        self._home_tenant = settings.tenant_id
        cooldown = settings.unknown_kid_cooldown_seconds
        policy = RefreshPolicy(
            lifetime=settings.metadata_refresh_seconds,
            retry_interval=settings.fetch_retry_seconds,
            cooldown=cooldown,
            # A server's Retry-After of a year must not keep a rotated key out for a year.
            max_server_delay=KEY_DELAY_COOLDOWNS * cooldown,
            # A key fetch may first fetch the metadata: two deadlines, and a little slack.
            wait_timeout=2 * settings.fetch_timeout_seconds + 1,
        )
        rng = rng or random.Random()  # noqa: S311 - jitter spreads load; it guards no secret
        self.metadata_urls = {version: metadata_url(settings.instance, tenant, version) for version in ("2.0", "1.0")}
        self.metadata: dict[str, RefreshingValue[ProviderMetadata]] = {
            version: RefreshingValue(
                f"metadata v{version}",
                self._metadata_loader(self.metadata_urls[version]),
                policy,
                clock,
                rng,
                spawn,
            )
            for version in ("2.0", "1.0")
        }
        # Entra signs v1 and v2 tokens with one key set; we read it where v2 metadata points.
        self.key_set: RefreshingValue[dict[str, VerificationKey]] = RefreshingValue(
            "signing keys", self._load_keys, policy, clock, rng, spawn
        )
        self.keys = SigningKeys(self.key_set)

    def prefetch(self) -> None:
        """Start fetching the v2 metadata and the keys in the background; never blocks."""
        self.key_set.prefetch()

    def issuer_template(self, version: str, *, allow_io: bool) -> str:
        """The issuer that tokens of this version must carry, possibly with {tenantid}.

        Raises:
            KeysUnavailable: the metadata cannot be had.
            WouldBlock: when ``allow_io`` is False and I/O is needed.
        """
        try:
            return self.metadata[version].get(allow_io=allow_io).issuer_template
        except Unavailable as error:
            raise KeysUnavailable(error.retry_after) from None

    def authorization_endpoint(self) -> str | None:
        """The v2 authorize endpoint of the metadata in hand (no I/O), for claims challenges."""
        metadata = self.metadata["2.0"].value
        return metadata.authorization_endpoint if metadata is not None else None

    def _metadata_loader(self, url: str) -> Callable[[], ProviderMetadata]:
        def load() -> ProviderMetadata:
            metadata = parse_metadata(self._fetch(url), url)
            return replace(metadata, issuer_template=tenant_template(metadata.issuer, self._home_tenant))

        return load

    def _load_keys(self) -> dict[str, VerificationKey]:
        try:
            metadata = self.metadata["2.0"].get()
        except Unavailable as error:
            raise FetchError(str(error), retry_after=error.retry_after) from None
        # A tenant's own JWKS may name the tenant in each key's issuer: templated as its metadata's issuer is.
        return parse_jwks(self._fetch(metadata.jwks_uri), previous=self.key_set.value, issuer_template=self._template)

    def _template(self, issuer: str) -> str:
        return tenant_template(issuer, self._home_tenant)
