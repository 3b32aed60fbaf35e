"""OpenID discovery of one authority: its metadata documents and the signing keys they point to, kept fresh."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

from .._errors import KeysUnavailable
from .._settings.app_settings import AuthSettings
from .fetch import FetchError, JsonFetcher
from .jwks import SigningKeys, VerificationKey, parse_jwks
from .metadata import ProviderMetadata, metadata_url, parse_metadata, tenant_template
from .refresh import Clock, RefreshingValue, RefreshPolicy, Spawn, Unavailable, spawn_daemon

# Entra's metadata for many tenants: its issuer carries a {tenantid} placeholder.
MULTI_TENANT_AUTHORITY = "organizations"
# The longest pause a key or metadata server may impose, in unknown-kid cooldowns.
KEY_DELAY_COOLDOWNS = 2


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
        # The clock every fetched value's freshness is measured on.
        self.clock = clock
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
                source="metadata",
            )
            for version in ("2.0", "1.0")
        }
        # Entra signs v1 and v2 tokens with one key set; we read it where v2 metadata points.
        self.key_set: RefreshingValue[dict[str, VerificationKey]] = RefreshingValue(
            "signing keys", self._load_keys, policy, clock, rng, spawn, source="jwks"
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
