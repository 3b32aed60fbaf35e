"""Which tenants may call: the interface, and the static list from settings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from .errors import TenantListUnavailable, TenantNotAllowed
from .refresh import RefreshingValue, Unavailable


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
