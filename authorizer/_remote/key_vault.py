"""The allowed-tenants list in a Key Vault secret: its settings, and the read with the Azure SDK.

Switched on by KEY_VAULT_URL alone. The SDK (the ``keyvault`` extra) is checked for when the
settings are read, at import, and imported only when the list is first read: an app without
KEY_VAULT_URL never pays its import cost (about half a second).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .._errors import ConfigurationError
from .._settings.app_settings import DEVELOPMENT, SettingsReader, is_loopback_host
from .._settings.extras import missing_distributions
from .fetch import FetchError, parse_retry_after

if TYPE_CHECKING:
    from azure.keyvault.secrets import SecretClient

INSTALL_COMMAND = "pip install 'entra-functions-authorizer[keyvault]'"
# Key Vault caps secrets at 25 KB: anything larger is not the vault's answer.
MAX_SECRET_CHARACTERS = 25 * 1024
# Key Vault secret names: 1-127 letters, digits and dashes.
_SECRET_NAME = re.compile(r"[0-9A-Za-z-]{1,127}")
_SDK_DISTRIBUTIONS = ("azure-keyvault-secrets", "azure-identity")


@dataclass(frozen=True)
class KeyVaultSettings:
    """The vault and secret that hold the allowed tenants, and how fresh the list must be."""

    vault_url: str
    secret_name: str
    refresh_seconds: int
    max_age_seconds: int
    timeout_seconds: float
    # Development only: a local vault's throwaway CA (a loopback vault cannot be a vault.azure.net host).
    dev_ca_bundle: str | None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> KeyVaultSettings | None:
        """The settings, or None when KEY_VAULT_URL is unset (the static list only).

        Raises:
            ConfigurationError: naming the first setting that is invalid, or KEY_VAULT_URL when
                the keyvault extra is not installed.
        """
        reader = SettingsReader(environ)
        if not reader.text("KEY_VAULT_URL"):
            return None
        development = reader.text("AZURE_FUNCTIONS_ENVIRONMENT") == DEVELOPMENT
        vault_url = reader.https_url("KEY_VAULT_URL", "https://<name>.vault.azure.net", development)
        if not vault_url.startswith("https://"):
            # The SDK refuses plain http, and so do we: the list decides who gets in.
            raise ConfigurationError("KEY_VAULT_URL", "must use https://")
        secret_name = reader.text("ALLOWED_TENANTS_SECRET_NAME") or "allowed-tenants"
        if not _SECRET_NAME.fullmatch(secret_name):
            raise ConfigurationError("ALLOWED_TENANTS_SECRET_NAME", "must be 1-127 letters, digits or dashes")
        refresh = reader.number("ALLOWED_TENANTS_REFRESH_SECONDS", int, 300, 10, 86400)
        max_age = reader.number("ALLOWED_TENANTS_MAX_AGE_SECONDS", int, 86400, 60, 30 * 86400)
        if max_age < refresh:
            raise ConfigurationError("ALLOWED_TENANTS_MAX_AGE_SECONDS", "must not be shorter than the refresh period")
        dev_ca_bundle = reader.text("KEY_VAULT_DEV_CA_BUNDLE") or None
        # Trusting another CA, or a vault outside vault.azure.net, would let a stand-in serve the list.
        if dev_ca_bundle is not None and not is_loopback_host(urlsplit(vault_url).hostname or ""):
            raise ConfigurationError("KEY_VAULT_DEV_CA_BUNDLE", "is for a local vault only (a loopback KEY_VAULT_URL)")
        # Nothing of the SDK is imported until the first read.
        missing = missing_distributions(*_SDK_DISTRIBUTIONS)
        if missing:
            raise ConfigurationError(
                "KEY_VAULT_URL", f"needs the Azure SDK for Key Vault ({', '.join(missing)}): {INSTALL_COMMAND}"
            )
        return cls(
            vault_url=vault_url,
            secret_name=secret_name,
            refresh_seconds=refresh,
            max_age_seconds=max_age,
            timeout_seconds=reader.number("KEY_VAULT_TIMEOUT_SECONDS", float, 5.0, 0.1, 60.0),
            dev_ca_bundle=dev_ca_bundle,
        )


class KeyVaultSecretReader:
    """Reads one secret; each call is a single bounded attempt (our refresh loop retries)."""

    def __init__(self, settings: KeyVaultSettings) -> None:
        self._settings = settings
        self._client: SecretClient | None = None

    def __call__(self) -> str:
        """Return the secret's current value.

        Raises:
            FetchError: on any failure, with the vault's Retry-After when it sent one; the
                message names the secret and the cause, never the value.
        """
        from azure.core.exceptions import (
            AzureError,
            ClientAuthenticationError,
            HttpResponseError,
            ResourceNotFoundError,
        )

        name = self._settings.secret_name
        try:
            secret = self._secret_client().get_secret(name)
        except ResourceNotFoundError:
            raise FetchError(f"Key Vault has no secret {name!r}") from None
        except ClientAuthenticationError as error:
            if error.status_code is None:
                # The credential itself failed: no token, so the vault was never asked.
                raise FetchError(
                    f"the managed identity (or local credential) gave no token for Key Vault, reading secret "
                    f"{name!r}: {type(error).__name__}"
                ) from None
            refused = f"Key Vault refused the credential ({error.status_code})"
            raise FetchError(f"{refused} reading secret {name!r}") from None
        except HttpResponseError as error:
            retry_after = getattr(error.response, "headers", {}).get("Retry-After")
            raise FetchError(
                f"Key Vault answered {error.status_code} reading secret {name!r}",
                retry_after=parse_retry_after(retry_after),
            ) from None
        except AzureError as error:
            raise FetchError(f"{type(error).__name__} reading Key Vault secret {name!r}") from None
        if secret.value is None:
            raise FetchError(f"Key Vault secret {name!r} has no value")
        if len(secret.value) > MAX_SECRET_CHARACTERS:
            raise FetchError(f"Key Vault secret {name!r} is larger than a secret can be")
        return secret.value

    def _secret_client(self) -> SecretClient:
        if self._client is None:
            from azure.identity import DefaultAzureCredential
            from azure.keyvault.secrets import SecretClient

            timeout = self._settings.timeout_seconds
            # One refresh is one bounded attempt: our refresh loop backs off and honours Retry-After.
            # The credential's own token request is bounded the same way, or a slow identity
            # endpoint would hold the caller however short KEY_VAULT_TIMEOUT_SECONDS is.
            bounded: dict[str, Any] = {"retry_total": 0, "connection_timeout": timeout, "read_timeout": timeout}
            local: dict[str, Any] = {}
            if self._settings.dev_ca_bundle is not None:
                # A local vault (loopback, Development only): its CA, and no check that the challenge
                # names a vault.azure.net resource, which a loopback host can never be.
                local = {"connection_verify": self._settings.dev_ca_bundle, "verify_challenge_resource": False}
            self._client = SecretClient(
                self._settings.vault_url,
                # Managed identity in Azure (AZURE_CLIENT_ID picks a user-assigned one); CLI or env locally.
                DefaultAzureCredential(process_timeout=max(1, math.ceil(timeout)), **bounded),
                **bounded,
                **local,
            )
        return self._client
