"""What the ``entra`` fixture hands a test: the library configured against the local issuer, and tokens.

Tokens come from the issuer's token endpoint over TLS, as a client gets them, signed with the key its
JWKS publishes; the library fetches that JWKS and the metadata as it would Entra's.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

import azure.functions as func

import authorizer

from .._settings.app_settings import DEVELOPMENT, is_loopback_host
from .._settings.local_settings import ENVIRONMENT, FILE_NAME, LocalSettings
from ._app_folder import served_api
from ._dev_token_form import dev_token_form
from ._entra_shape import ServedApi
from ._issuer import LocalEntraIssuer
from ._state import DAEMON_CLIENT_ID, SPA_CLIENT_ID

# Left out of a test's settings: the tenant list comes from ENTRA_ALLOWED_TENANTS, never from a real
# vault, and counts stay in the test's own process.
_OUTSIDE = ("KEY_VAULT_URL",)


class Entra:
    """The local issuer, and the library configured for one test against it."""

    def __init__(self, issuer: LocalEntraIssuer, api: ServedApi, environ: dict[str, str]) -> None:
        self.issuer = issuer
        self.api = api
        self.environ = environ

    @classmethod
    def begin(
        cls,
        issuer: LocalEntraIssuer,
        *,
        folder: Path,
        client_id: str | None = None,
        tenant_id: str | None = None,
        settings: Mapping[str, str] = {},  # noqa: B006 - read, never changed
    ) -> Entra:
        """Configure the library as the app in ``folder`` runs under `func start`, against the issuer.

        Raises:
            ValueError: a client or tenant id that is not a GUID.
        """
        api = served_api(client_id, tenant_id, folder=folder)
        state = issuer.started_state()
        environ = dict(os.environ)
        path = folder / FILE_NAME
        if path.is_file():
            # As func start applies the file: a non-empty environment variable wins.
            environ = LocalSettings.read(path).under(environ)
        endpoint = urlsplit(environ.get("IDENTITY_ENDPOINT", "")).hostname
        if endpoint and is_loopback_host(endpoint):
            # The development managed identity the app's settings name: this session's issuer plays it.
            environ |= {"IDENTITY_ENDPOINT": state.identity_endpoint, "IDENTITY_HEADER": state.identity_header}
        for name in _OUTSIDE:
            environ.pop(name, None)
        if environ.get("RATE_LIMIT_STORAGE_URL", "").startswith(("redis://", "rediss://")):
            environ["RATE_LIMIT_STORAGE_URL"] = "memory://"
        environ |= {
            ENVIRONMENT: DEVELOPMENT,
            "ENTRA_TENANT_ID": api.tenant,
            "ENTRA_CLIENT_ID": api.client_id,
            "ENTRA_INSTANCE": state.url,
            "ENTRA_DEV_CA_BUNDLE": state.ca_bundle,
            **settings,
        }
        testing = cls(issuer, api, environ)
        testing.configure()
        return testing

    def configure(self, **settings: str) -> None:
        """Apply app settings for the rest of this test (ENTRA_ALLOWED_CLIENT_APPS=..., say) and reset the caches."""
        self.environ |= settings
        authorizer.configure(environ=dict(self.environ))

    def end(self) -> None:
        authorizer.configure(environ=None)

    @property
    def client_id(self) -> str:
        return self.api.client_id

    @property
    def tenant_id(self) -> str:
        return self.api.tenant

    def token(
        self,
        scopes: Iterable[str] = (),
        *,
        roles: Iterable[str] = (),
        app_roles: Iterable[str] = (),
        app: bool = False,
        groups: Iterable[str] = (),
        tenant: str | None = None,
        guest: bool = False,
        client_app: str | None = None,
        auth_context: str | Iterable[str] | None = None,
        version: int = 2,
    ) -> str:
        """A real access token for this app's API, carrying exactly what is named.

        ``scopes`` (delegated) make a signed-in user's token, with ``roles`` the user holds; ``app_roles``
        (or ``app=True``) make an app-only token. ``tenant``: the token's tenant (default: the app's);
        ``guest``: a B2B guest of it; ``client_app``: the calling client's id (azp / appid);
        ``auth_context``: the authentication contexts met (acrs); ``version``: 1 or 2.

        Raises:
            ValueError: scopes beside app roles, a delegated token without a scope, or a bad version
                or authentication context.
        """
        scope_names, app_role_names = _names(scopes, "scopes"), _names(app_roles, "app_roles")
        app_only = app or bool(app_role_names)
        if app_only and (scope_names or roles or guest):
            raise ValueError("a token is a user's (scopes, roles, guest) or an application's (app_roles), not both")
        if not app_only and not scope_names:
            raise ValueError("a user's token carries the scopes its client asked for: name at least one")
        if version not in (1, 2):
            raise ValueError("version is 1 or 2")
        contexts = _names([auth_context] if isinstance(auth_context, str) else auth_context or (), "auth_context")
        form = dev_token_form(
            self.api,
            client_id=client_app or (DAEMON_CLIENT_ID if app_only else SPA_CLIENT_ID),
            version=str(version),
            scopes=scope_names,
            user="gus" if guest else "ada",
            roles=_names(roles, "roles"),
            app_only=app_only,
            app_roles=app_role_names,
            groups=_names(groups, "groups"),
            tenant=tenant,
            acrs=contexts,
        )
        return self.issuer.token(tenant=tenant or self.api.tenant, **form)

    @staticmethod
    def request(
        token: str | None = None,
        *,
        method: str = "GET",
        url: str = "http://localhost/api/",
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> func.HttpRequest:
        """A request as the worker hands one to a function, with ``Authorization: Bearer <token>``."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        return func.HttpRequest(method=method, url=url, headers=sent, body=body)


def _names(values: Iterable[str], label: str) -> list[str]:
    # entra.token(scopes="Orders.Read") would otherwise mean "O", "r", "d", ...
    if isinstance(values, str):
        raise TypeError(f"{label} takes a list of names, not a string")
    return list(values)
