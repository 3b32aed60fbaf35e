"""OpenID discovery: where the metadata lives, what it says, and the keys it points to."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import KeysUnavailable
from .fetch import FetchError, JsonFetcher
from .keys import SigningKeys, parse_jwks
from .refresh import Clock, RefreshingValue, RefreshPolicy, Spawn, Unavailable, spawn_daemon
from .settings import AuthSettings, is_loopback_host

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

# Entra's metadata for many tenants: its issuer carries a {tenantid} placeholder.
MULTI_TENANT_AUTHORITY = "organizations"


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    issuer: str
    jwks_uri: str


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
    parts = urlsplit(jwks_uri)
    # Keys over plain http could be swapped by anyone on the path.
    if not (parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname or ""))):
        raise FetchError(f"metadata at {url} names a jwks_uri that is not https")
    return ProviderMetadata(issuer=issuer, jwks_uri=jwks_uri)


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
        policy = RefreshPolicy(
            lifetime=settings.metadata_refresh_seconds,
            retry_interval=settings.fetch_retry_seconds,
            cooldown=settings.unknown_kid_cooldown_seconds,
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
        self.key_set: RefreshingValue[dict[str, RSAPublicKey]] = RefreshingValue(
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
            return self.metadata[version].get(allow_io=allow_io).issuer
        except Unavailable as error:
            raise KeysUnavailable(math.ceil(error.retry_after)) from None

    def _metadata_loader(self, url: str) -> Callable[[], ProviderMetadata]:
        def load() -> ProviderMetadata:
            return parse_metadata(self._fetch(url), url)

        return load

    def _load_keys(self) -> dict[str, RSAPublicKey]:
        try:
            metadata = self.metadata["2.0"].get()
        except Unavailable as error:
            raise FetchError(str(error), retry_after=error.retry_after) from None
        return parse_jwks(self._fetch(metadata.jwks_uri))
