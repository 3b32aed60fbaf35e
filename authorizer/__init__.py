"""Entra ID bearer-token authorization for Azure Functions HTTP triggers (Python v2 model)."""

__version__ = "0.2.0"

from .app import Blueprint, FunctionApp, FunctionKeyRouteError, UnprotectedFunctionError, verify_protected
from .decorator import allow_anonymous, require_auth
from .errors import (
    AuthError,
    ConfigurationError,
    Forbidden,
    InsufficientScope,
    InvalidToken,
    KeysUnavailable,
    MissingCredentials,
    TemporarilyUnavailable,
    TenantListUnavailable,
    TenantNotAllowed,
)
from .principal import Principal
from .runtime import TenantPolicyContext, configure, define_permissions, reset
from .settings import AuthSettings
from .tenants import RefreshingTenantPolicy, StaticTenantPolicy, TenantPolicy

__all__ = [
    "AuthError",
    "AuthSettings",
    "Blueprint",
    "ConfigurationError",
    "Forbidden",
    "FunctionApp",
    "FunctionKeyRouteError",
    "InsufficientScope",
    "InvalidToken",
    "KeysUnavailable",
    "MissingCredentials",
    "Principal",
    "RefreshingTenantPolicy",
    "StaticTenantPolicy",
    "TemporarilyUnavailable",
    "TenantListUnavailable",
    "TenantNotAllowed",
    "TenantPolicy",
    "TenantPolicyContext",
    "UnprotectedFunctionError",
    "allow_anonymous",
    "configure",
    "define_permissions",
    "reset",
    "require_auth",
    "verify_protected",
]
