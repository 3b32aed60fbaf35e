"""This API's credential with Entra, as MSAL takes it: a managed identity's assertion, a certificate, a secret.

Imported only when a downstream token is first asked for (it imports MSAL).
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from .._errors import DownstreamCredentialError
from .._settings.app_settings import AuthSettings, is_loopback_host
from .settings import CERTIFICATE, SECRET, TOKEN_EXCHANGE_RESOURCE, DownstreamSettings

# The App Service (and Functions) managed identity endpoint, as the platform sets it.
IDENTITY_VARIABLES = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER")


class AssertionRefused(Exception):
    """The managed identity endpoint answered, without a token (the identity is not enabled, say)."""


def client_credential(
    settings: DownstreamSettings, auth: AuthSettings, session: requests.Session
) -> str | dict[str, Any]:
    """The ``client_credential`` of MSAL's ConfidentialClientApplication for the chosen kind.

    Raises:
        DownstreamCredentialError: the chosen credential cannot be had here (naming its setting).
    """
    if settings.credential == SECRET:
        return str(settings.secret)
    if settings.credential == CERTIFICATE:
        return certificate_credential(settings)
    return {"client_assertion": managed_identity_assertion(settings, auth, session)}


def managed_identity_assertion(
    settings: DownstreamSettings, auth: AuthSettings, session: requests.Session
) -> Callable[[], str]:
    """The managed identity's token for api://AzureADTokenExchange: what a federated credential trusts.

    Raises:
        DownstreamCredentialError: the function app has no managed identity enabled, or (with a local
            issuer) an identity endpoint that is not on this machine.
    """
    endpoint = os.environ.get(IDENTITY_VARIABLES[0])
    if not endpoint or not os.environ.get(IDENTITY_VARIABLES[1]):
        # No probing of the VM metadata address: Functions publish their identity through these two.
        raise DownstreamCredentialError(
            "ENTRA_CLIENT_CREDENTIAL",
            "managed_identity needs the function app's managed identity (IDENTITY_ENDPOINT and IDENTITY_HEADER "
            "are unset): enable it (az functionapp identity assign), or choose certificate",
        )
    if auth.uses_loopback_instance and not is_loopback_host(urlsplit(endpoint).hostname or ""):
        raise DownstreamCredentialError(
            "IDENTITY_ENDPOINT", "a local issuer takes its assertion from the local issuer's identity endpoint"
        )
    identity: msal.ManagedIdentity
    if settings.managed_identity_client_id is not None:
        identity = msal.UserAssignedManagedIdentity(client_id=settings.managed_identity_client_id)
    else:
        identity = msal.SystemAssignedManagedIdentity()
    client = msal.ManagedIdentityClient(identity, http_client=session)

    def assertion() -> str:
        # MSAL caches the identity's token: a fresh one only when it nears its end.
        result = client.acquire_token_for_client(resource=TOKEN_EXCHANGE_RESOURCE)
        token = result.get("access_token")
        if not isinstance(token, str) or not token:
            raise AssertionRefused(str(result.get("error") or "no token"))
        return token

    return assertion


def certificate_credential(settings: DownstreamSettings) -> dict[str, Any]:
    """The private key MSAL signs its client assertion with, and the certificate it names (x5t#S256, x5c).

    Raises:
        DownstreamCredentialError: the certificate cannot be read (the message never repeats it).
    """
    setting = "ENTRA_CLIENT_CERTIFICATE_PATH" if settings.certificate_path else "ENTRA_CLIENT_CERTIFICATE"
    try:
        data = Path(settings.certificate_path).read_bytes() if settings.certificate_path else None
    except OSError as error:
        raise DownstreamCredentialError(setting, f"cannot be read: {type(error).__name__}") from None
    if data is None:
        data = str(settings.certificate).encode()
    try:
        key, certificate = _load(data)
    except (ValueError, TypeError, binascii.Error):
        raise DownstreamCredentialError(
            setting, "is not a certificate with its private key (PEM, or PKCS#12 with no password)"
        ) from None
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    # With the certificate and no thumbprint, MSAL signs with PS256 and names it by its SHA-256 (x5t#S256).
    return {"private_key": key_pem, "public_certificate": certificate.public_bytes(serialization.Encoding.PEM).decode()}


def _load(data: bytes) -> tuple[Any, x509.Certificate]:
    if b"-----BEGIN" in data:
        key = serialization.load_pem_private_key(data, password=None)
        return key, x509.load_pem_x509_certificate(data)
    # A Key Vault reference to a certificate gives its PKCS#12, base64; a .pfx file gives it as is.
    raw = data if data[:1] == b"\x30" else base64.b64decode(data, validate=True)
    loaded_key, loaded_certificate, _ = pkcs12.load_key_and_certificates(raw, None)
    if loaded_key is None or loaded_certificate is None:
        raise ValueError("incomplete PKCS#12")
    return loaded_key, loaded_certificate
