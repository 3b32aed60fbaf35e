"""Entra ID bearer-token authorization for Azure Functions HTTP triggers (Python v2 model).

The promise is this module's ``__all__`` and the ``python -m authorizer`` commands. Every module and
folder below whose name starts with an underscore is machinery, free to move: import from
``authorizer``. The rooms and the direction of their imports are drawn in docs/repository.md.
"""

__version__ = "0.2.0"

from ._downstream.challenges import raise_for_claims_challenge
from ._errors import (
    AuthError,
    ConfigurationError,
    DownstreamConsentRequired,
    DownstreamCredentialError,
    DownstreamError,
    DownstreamInteractionRequired,
    DownstreamUnavailable,
    Forbidden,
    InsufficientScope,
    InvalidToken,
    KeysUnavailable,
    MissingCredentials,
    TemporarilyUnavailable,
    TenantListUnavailable,
    TenantNotAllowed,
)
from ._functions.app import Blueprint, FunctionApp, FunctionKeyRouteError, UnprotectedFunctionError, verify_protected
from ._functions.decorator import allow_anonymous, require_auth
from ._functions.runtime import (
    TenantPolicyContext,
    acquire_app_token,
    acquire_app_token_async,
    configure,
    define_permissions,
    reset,
)
from ._remote.tenants import RefreshingTenantPolicy, StaticTenantPolicy, TenantPolicy
from ._settings.app_settings import AuthSettings
from ._token.principal import Principal

__all__ = [
    "AuthError",
    "AuthSettings",
    "Blueprint",
    "ConfigurationError",
    "DownstreamConsentRequired",
    "DownstreamCredentialError",
    "DownstreamError",
    "DownstreamInteractionRequired",
    "DownstreamUnavailable",
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
    "acquire_app_token",
    "acquire_app_token_async",
    "allow_anonymous",
    "configure",
    "define_permissions",
    "raise_for_claims_challenge",
    "reset",
    "require_auth",
    "verify_protected",
]
