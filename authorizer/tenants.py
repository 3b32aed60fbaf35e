"""Which tenants may call: the interface, and the static list from settings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from .errors import TenantNotAllowed


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


class StaticTenantPolicy:
    """The home tenant plus a fixed list (ENTRA_ALLOWED_TENANTS)."""

    def __init__(self, home_tenant: str, allowed: Iterable[str] = ()) -> None:
        self._allowed = frozenset({home_tenant, *allowed})
        self.accepts_other_tenants = len(self._allowed) > 1

    def check(self, tenant_id: str, *, allow_io: bool) -> None:
        if tenant_id not in self._allowed:
            raise TenantNotAllowed()
