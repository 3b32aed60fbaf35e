"""How this API proves its own identity to Entra when it asks for downstream tokens, and its bounds.

One setting chooses the credential: the function app's managed identity as a federated credential
(no secret anywhere, the default), a certificate, or a client secret. Read with the other settings at
load; nothing of MSAL is imported until a token is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .._errors import ConfigurationError
from .._settings.app_settings import SettingsReader

INSTALL_COMMAND = "pip install 'entra-functions-authorizer[downstream]'"
MANAGED_IDENTITY = "managed_identity"
CERTIFICATE = "certificate"
SECRET = "secret"  # noqa: S105 - the name of a credential kind, not a secret
CREDENTIALS = (MANAGED_IDENTITY, CERTIFICATE, SECRET)
# The audience of a managed identity's token that a federated identity credential trusts.
TOKEN_EXCHANGE_RESOURCE = "api://AzureADTokenExchange"  # noqa: S105 - an audience, not a secret


@dataclass(frozen=True)
class DownstreamSettings:
    """The credential this API uses with Entra, and the bounds of acquiring downstream tokens."""

    credential: str
    # A user-assigned identity's client id; None for the system-assigned one.
    managed_identity_client_id: str | None
    # The certificate with its private key: PEM text, or base64 PKCS#12 (a Key Vault reference's value).
    certificate: str | None
    certificate_path: str | None
    secret: str | None
    # Wall-clock deadline of one acquisition: the assertion, discovery and the token request together.
    timeout_seconds: float
    # Users whose downstream tokens are kept per instance; the least recently served go first.
    cache_users: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> DownstreamSettings:
        """Read and check the settings.

        Raises:
            ConfigurationError: naming the setting that is invalid (never repeating a secret).
        """
        reader = SettingsReader(environ)
        credential = reader.text("ENTRA_CLIENT_CREDENTIAL").lower() or MANAGED_IDENTITY
        if credential not in CREDENTIALS:
            raise ConfigurationError("ENTRA_CLIENT_CREDENTIAL", f"must be one of {', '.join(CREDENTIALS)}")
        certificate = reader.text("ENTRA_CLIENT_CERTIFICATE") or None
        certificate_path = reader.text("ENTRA_CLIENT_CERTIFICATE_PATH") or None
        secret = reader.text("ENTRA_CLIENT_SECRET") or None
        if credential == CERTIFICATE and (certificate is None) == (certificate_path is None):
            raise ConfigurationError(
                "ENTRA_CLIENT_CERTIFICATE",
                "a certificate credential needs exactly one of ENTRA_CLIENT_CERTIFICATE (its PEM or base64 PKCS#12, "
                "a Key Vault reference is best) and ENTRA_CLIENT_CERTIFICATE_PATH",
            )
        if credential == SECRET and secret is None:
            raise ConfigurationError("ENTRA_CLIENT_SECRET", "is required when ENTRA_CLIENT_CREDENTIAL is secret")
        identity = reader.text("ENTRA_MANAGED_IDENTITY_CLIENT_ID") or None
        if identity is not None:
            identity = reader.guid("ENTRA_MANAGED_IDENTITY_CLIENT_ID")
        return cls(
            credential=credential,
            managed_identity_client_id=identity,
            certificate=certificate,
            certificate_path=certificate_path,
            secret=secret,
            timeout_seconds=reader.number("ENTRA_DOWNSTREAM_TIMEOUT_SECONDS", float, 5.0, 0.5, 60.0),
            cache_users=reader.number("ENTRA_DOWNSTREAM_CACHE_USERS", int, 1000, 0, 100_000),
        )
