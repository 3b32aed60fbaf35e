"""Which tenants may call: the interface, the static list, and the list kept in Key Vault."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from typing import Protocol

from .._errors import TenantListUnavailable, TenantNotAllowed
from .._settings.app_settings import parse_guid_list
from .fetch import FetchError
from .key_vault import KeyVaultSecretReader, KeyVaultSettings
from .refresh import Clock, RefreshingValue, RefreshPolicy, Spawn, Unavailable

logger = logging.getLogger("authorizer.tenants")


class TenantPolicy(Protocol):
    """Decides whether an authenticated token's tenant may call this API."""

    @property
    def accepts_other_tenants(self) -> bool:
        """True when tenants besides the home tenant may ever be allowed."""
        ...

    def check(self, tenant_id: str, *, allow_io: bool) -> None:
        """Return when ``tenant_id`` is allowed.

        Raises:
            TenantNotAllowed: the tenant is refused.
            TenantListUnavailable: the list is needed but cannot be had.
            WouldBlock: ``allow_io`` is False and the answer needs I/O.
        """
        ...

    def prefetch(self) -> None:
        """Start fetching what ``check`` will need, in the background; never blocks or raises."""
        ...


class StaticTenantPolicy:
    """The home tenant plus a fixed list (ENTRA_ALLOWED_TENANTS)."""

    def __init__(self, home_tenant: str, allowed: Iterable[str] = ()) -> None:
        self._allowed = frozenset({home_tenant, *allowed})
        self.accepts_other_tenants = len(self._allowed) > 1

    def check(self, tenant_id: str, *, allow_io: bool) -> None:
        if tenant_id not in self._allowed:
            raise TenantNotAllowed()

    def prefetch(self) -> None:
        return


class RefreshingTenantPolicy:
    """The home tenant, a fixed list, and a list fetched from elsewhere (Key Vault, say).

    The fetched list refreshes in the background; if it was never read and cannot be read,
    only the tenants that need no list pass and every other tenant is told to retry (503).
    """

    accepts_other_tenants = True

    def __init__(self, home_tenant: str, fixed: Iterable[str], fetched: RefreshingValue[frozenset[str]]) -> None:
        self._needs_no_list = frozenset({home_tenant, *fixed})
        self.fetched = fetched

    def check(self, tenant_id: str, *, allow_io: bool) -> None:
        # The home tenant never waits on, or fails with, a list it does not need.
        if tenant_id in self._needs_no_list:
            return
        try:
            allowed = self.fetched.get(allow_io=allow_io)
        except Unavailable as error:
            # Never "let everyone in" and never "bad token": the caller must retry.
            raise TenantListUnavailable(error.retry_after) from None
        if tenant_id not in allowed:
            raise TenantNotAllowed()

    def prefetch(self) -> None:
        self.fetched.prefetch()


def key_vault_tenant_policy(
    home_tenant: str,
    fixed: Iterable[str],
    vault: KeyVaultSettings,
    *,
    retry_interval: float,
    clock: Clock,
    rng: random.Random,
    spawn: Spawn,
) -> RefreshingTenantPolicy:
    """The home tenant, ENTRA_ALLOWED_TENANTS and the tenants listed in the Key Vault secret."""
    read_secret = KeyVaultSecretReader(vault)

    def load() -> frozenset[str]:
        raw = read_secret()
        try:
            # A value naming no tenant is a mistake, not "no partners": that is written [].
            tenants = parse_guid_list(raw)
            if not tenants and not raw.strip().startswith("["):
                raise ValueError("names no tenant (write [] for none)")
            return frozenset(tenants)
        except ValueError as problem:
            # A typo must not silently drop tenants: refuse the whole value, keep the last good list.
            logger.error("Key Vault secret %r was refused: %s; keeping the last good list", vault.secret_name, problem)
            raise FetchError(f"secret {vault.secret_name!r} is malformed") from None

    fetched = RefreshingValue(
        f"allowed tenants ({vault.secret_name})",
        load,
        RefreshPolicy(
            lifetime=vault.refresh_seconds,
            retry_interval=retry_interval,
            cooldown=vault.refresh_seconds,
            # The vault may slow our reads to one per refresh period, never longer.
            max_server_delay=vault.refresh_seconds,
            # Past the maximum age the list is not served: partner tenants get 503 until a read succeeds.
            max_stale=vault.max_age_seconds,
            # A read is at most three bounded requests: the challenge, the identity's token, the secret.
            wait_timeout=3 * vault.timeout_seconds + 1,
        ),
        clock,
        rng,
        spawn,
        source="key_vault",
    )
    return RefreshingTenantPolicy(home_tenant, fixed, fetched)
