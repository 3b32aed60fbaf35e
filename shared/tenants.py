"""Which tenant policy this app uses: the Key Vault list when KEY_VAULT_URL is set."""

from __future__ import annotations

import logging

from authorizer.fetch import FetchError
from authorizer.refresh import RefreshingValue, RefreshPolicy
from authorizer.runtime import TenantPolicyContext, static_tenant_policy
from authorizer.settings import parse_guid_list
from authorizer.tenants import RefreshingTenantPolicy, TenantPolicy

from .keyvault import KeyVaultSecretReader, LocalVaultTrust
from .settings import KeyVaultSettings

logger = logging.getLogger("shared.tenants")


def tenant_policy(context: TenantPolicyContext, *, local_vault_trust: LocalVaultTrust | None = None) -> TenantPolicy:
    """The static list, or the home tenant + ENTRA_ALLOWED_TENANTS + the Key Vault secret's list.

    Raises:
        ConfigurationError: a Key Vault setting is invalid (raised when the app loads).
    """
    vault = KeyVaultSettings.from_environ(context.environ)
    if vault is None:
        return static_tenant_policy(context)
    read_secret = KeyVaultSecretReader(vault, local_vault_trust=local_vault_trust)

    def load() -> frozenset[str]:
        raw = read_secret()
        try:
            # An empty value is a mistake, not "no partners": that is written [].
            if not raw.strip():
                raise ValueError("is empty")
            return frozenset(parse_guid_list(raw))
        except ValueError as problem:
            # A typo must not silently drop tenants: refuse the whole value, keep the last good list.
            logger.error("Key Vault secret %r was refused: %s; keeping the last good list", vault.secret_name, problem)
            raise FetchError(f"secret {vault.secret_name!r} is malformed") from None

    fetched = RefreshingValue(
        f"allowed tenants ({vault.secret_name})",
        load,
        RefreshPolicy(
            lifetime=vault.refresh_seconds,
            retry_interval=context.settings.fetch_retry_seconds,
            cooldown=vault.refresh_seconds,
            # The vault may slow our reads to one per refresh period, never longer.
            max_server_delay=vault.refresh_seconds,
            # Past the maximum age the list is not served: partner tenants get 503 until a read succeeds.
            max_stale=vault.max_age_seconds,
            # A read is at most three bounded requests: the challenge, the identity's token, the secret.
            wait_timeout=3 * vault.timeout_seconds + 1,
        ),
        context.monotonic,
        context.rng,
        context.spawn,
    )
    return RefreshingTenantPolicy(context.settings.tenant_id, context.settings.allowed_tenants, fetched)
