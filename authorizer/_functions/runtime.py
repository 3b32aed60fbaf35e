"""Process-level state shared by every invocation of a warm instance, and its wiring.

Settings are read once; the authority (metadata and keys) and the tenant policy are
built on first use. ``configure`` injects clock, fetcher and tenant policy (tests, app
glue); ``reset`` drops every cache and re-reads the settings.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .._downstream.lazy import LazyDownstream
from .._downstream.settings import DownstreamSettings
from .._policy.permissions import ScopePermissions
from .._policy.rate_counter import CallerRateLimiter
from .._policy.rate_limits import RateLimitSettings
from .._remote.discovery import Authority
from .._remote.fetch import HttpJsonFetcher, JsonFetcher
from .._remote.key_vault import KeyVaultSettings
from .._remote.refresh import Clock, Spawn, spawn_daemon
from .._remote.tenants import StaticTenantPolicy, TenantPolicy, key_vault_tenant_policy
from .._settings.app_settings import AuthSettings
from .._telemetry.signals import look_again
from .._token import delegation
from .._token.authenticator import Authenticator


@dataclass(frozen=True)
class TenantPolicyContext:
    """What a tenant policy factory may use: the settings, the app settings it reads, time.

    ``clock`` is wall-clock time; ``monotonic`` is for durations (lifetimes, back-offs), which a
    step of the wall clock must not stretch.
    """

    settings: AuthSettings
    environ: Mapping[str, str]
    clock: Clock
    spawn: Spawn
    rng: random.Random
    monotonic: Clock = time.monotonic


TenantPolicyFactory = Callable[[TenantPolicyContext], TenantPolicy]


def static_tenant_policy(context: TenantPolicyContext) -> TenantPolicy:
    """The home tenant plus ENTRA_ALLOWED_TENANTS."""
    return StaticTenantPolicy(context.settings.tenant_id, context.settings.allowed_tenants)


def default_tenant_policy(context: TenantPolicyContext) -> TenantPolicy:
    """The static list, plus the Key Vault secret's list when KEY_VAULT_URL is set.

    Raises:
        ConfigurationError: a Key Vault setting is invalid, or the keyvault extra is missing.
    """
    vault = KeyVaultSettings.from_environ(context.environ)
    if vault is None:
        return static_tenant_policy(context)
    return key_vault_tenant_policy(
        context.settings.tenant_id,
        context.settings.allowed_tenants,
        vault,
        retry_interval=context.settings.fetch_retry_seconds,
        clock=context.monotonic,
        rng=context.rng,
        spawn=context.spawn,
    )


@dataclass(frozen=True)
class Wiring:
    """Where settings, time and documents come from; defaults are the production ones."""

    environ: Mapping[str, str] | None = None
    # Wall-clock time, for token lifetimes (exp, nbf, iat).
    clock: Clock = time.time
    # Durations of caches and back-offs: a wall-clock step backwards must not stretch them.
    monotonic: Clock = time.monotonic
    fetcher: Callable[[AuthSettings], JsonFetcher] | None = None
    tenant_policy: TenantPolicyFactory = default_tenant_policy
    spawn: Spawn = spawn_daemon
    rng: random.Random = field(default_factory=random.Random)


@dataclass(frozen=True)
class Runtime:
    settings: AuthSettings
    authenticator: Authenticator
    clock: Clock
    # Counts admitted calls of the functions that set a rate limit (its store is made on first use).
    rate_limiter: CallerRateLimiter
    # How this API asks Entra for downstream tokens; MSAL is loaded on the first one asked for.
    downstream: LazyDownstream


_lock = threading.Lock()
_wiring = Wiring()
_settings: AuthSettings | None = None
_runtime: Runtime | None = None
_permissions: ScopePermissions | None = None
_metadata_served = False


def settings() -> AuthSettings:
    """The validated settings, read on first call.

    Raises:
        ConfigurationError: naming the setting that is missing or invalid.
    """
    global _settings
    current = _settings
    if current is None:
        with _lock:
            if _settings is None:
                _settings = AuthSettings.from_environ(_environ())
            current = _settings
    return current


def current() -> Runtime:
    """The shared runtime, built on first use."""
    runtime = _runtime
    if runtime is None:
        runtime = _build()
    return runtime


def _build() -> Runtime:
    global _runtime
    loaded = settings()
    with _lock:
        if _runtime is None:
            wiring = _wiring
            context = TenantPolicyContext(
                loaded, _environ(), wiring.clock, wiring.spawn, wiring.rng, monotonic=wiring.monotonic
            )
            tenants = wiring.tenant_policy(context)
            fetch = (wiring.fetcher or _http_fetcher)(loaded)
            authority = Authority(
                loaded,
                fetch,
                wiring.monotonic,
                multi_tenant=tenants.accepts_other_tenants,
                rng=wiring.rng,
                spawn=wiring.spawn,
            )
            _runtime = Runtime(
                settings=loaded,
                authenticator=Authenticator(loaded, authority, tenants, wiring.clock),
                clock=wiring.clock,
                rate_limiter=CallerRateLimiter(RateLimitSettings.from_environ(_environ()), wiring.monotonic),
                downstream=LazyDownstream(loaded, DownstreamSettings.from_environ(_environ()), wiring.monotonic),
            )
        return _runtime


def acquire_app_token(scopes: Sequence[str]) -> str:
    """An app-only access token for a downstream API, as this API's own identity (client credentials).

    For work that is not a user's: ``acquire_app_token(["https://graph.microsoft.com/.default"])``.
    Secretless by default (the managed identity as a federated credential); MSAL's cache answers repeats.

    Raises:
        DownstreamError: a subclass (unavailable: 503; our credential refused: 500) when left uncaught
            in a protected function.
    """
    if isinstance(scopes, str) or not scopes:
        raise TypeError("acquire_app_token takes a list of scopes, such as ['https://graph.microsoft.com/.default']")
    token: str = current().downstream.tokens().for_app(list(scopes))
    return token


async def acquire_app_token_async(scopes: Sequence[str]) -> str:
    """``acquire_app_token`` on a worker thread, so the event loop keeps serving while Entra answers."""
    return await asyncio.to_thread(acquire_app_token, scopes)


def prefetch() -> None:
    """Fetch keys (and the tenant list, where it comes from elsewhere) in the background.

    Called when the app is indexed, so that the first request waits only for what is not there
    yet. Never blocks and never raises: a failure here is retried by the first request.
    """
    try:
        authenticator = current().authenticator
        authenticator.authority.prefetch()
        authenticator.tenants.prefetch()
    except Exception:  # noqa: BLE001 - loading the app must not fail because a warm-up did
        logging.getLogger("authorizer").warning("prefetch at load failed; the first request will fetch", exc_info=True)


def _downstream_acquirer() -> delegation.TokenAcquirer:
    return current().downstream


# Principals reach the process's acquirer through this, without importing the rooms above them.
delegation.install_acquirer(_downstream_acquirer)


def _environ() -> Mapping[str, str]:
    return _wiring.environ if _wiring.environ is not None else os.environ


def _http_fetcher(settings: AuthSettings) -> JsonFetcher:
    return HttpJsonFetcher(settings.fetch_timeout_seconds, ca_bundle=settings.dev_ca_bundle)


def reset() -> None:
    """Drop every process-level cache and re-read the settings on next use (and whether an SDK listens)."""
    global _settings, _runtime
    with _lock:
        _settings = None
        _runtime = None
    look_again()


class _Keep:
    """Marks a part of the wiring that ``configure`` leaves as it is."""


KEEP: Any = _Keep()


def configure(
    *,
    environ: Mapping[str, str] | None = KEEP,
    clock: Clock | None = KEEP,
    monotonic: Clock | None = KEEP,
    fetcher: Callable[[AuthSettings], JsonFetcher] | None = KEEP,
    tenant_policy: TenantPolicyFactory | None = KEEP,
    spawn: Spawn | None = KEEP,
    rng: random.Random | None = KEEP,
) -> None:
    """Replace the named parts of the wiring, then reset; None restores a part's default.

    The app wires its tenant policy once; tests swap clock and settings around it.
    """
    global _wiring
    defaults = Wiring()
    given = {
        "environ": environ,
        "clock": clock,
        "monotonic": monotonic,
        "fetcher": fetcher,
        "tenant_policy": tenant_policy,
        "spawn": spawn,
        "rng": rng,
    }
    changes: dict[str, Any] = {
        name: getattr(defaults, name) if value is None else value for name, value in given.items() if value is not KEEP
    }
    with _lock:
        _wiring = replace(_wiring, **changes)
    reset()


def serve_metadata(served: bool = True) -> None:
    """Record that the app serves its RFC 9728 document, so that challenges may point to it."""
    global _metadata_served
    _metadata_served = served


def metadata_served() -> bool:
    return _metadata_served


def define_permissions(mapping: Mapping[str, list[str] | tuple[str, ...] | frozenset[str] | set[str]]) -> None:
    """Declare the app-wide mapping from each delegated scope to the app roles it implies.

    Call it before decorating: each require_auth(permissions=...) keeps the mapping in force
    when it was applied.

    Raises:
        TypeError: a bare string where a list of role names belongs.
        ValueError: a malformed scope or role name.
    """
    global _permissions
    candidate = ScopePermissions.from_mapping(mapping)
    with _lock:
        _permissions = candidate


def permissions() -> ScopePermissions | None:
    return _permissions
