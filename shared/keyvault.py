"""Reading the allowed-tenants secret with the Azure SDK (SecretClient + DefaultAzureCredential).

The SDK is imported only when a vault is configured: an app without KEY_VAULT_URL never pays
its import cost (about half a second).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from authorizer.errors import ConfigurationError
from authorizer.fetch import FetchError, parse_retry_after
from authorizer.settings import is_loopback_host

from .settings import KeyVaultSettings

if TYPE_CHECKING:
    from azure.keyvault.secrets import SecretClient

logger = logging.getLogger("shared.keyvault")

MAX_SECRET_CHARACTERS = 25 * 1024


@dataclass(frozen=True)
class LocalVaultTrust:
    """TEST ONLY: trust a throwaway CA and a vault host outside vault.azure.net.

    Accepted only for a vault on a loopback host in Development; there is no app setting for it.
    """

    ca_bundle: str


class KeyVaultSecretReader:
    """Reads one secret; each call is a single bounded attempt (our refresh loop retries)."""

    def __init__(self, settings: KeyVaultSettings, *, local_vault_trust: LocalVaultTrust | None = None) -> None:
        host = urlsplit(settings.vault_url).hostname or ""
        # Skipping the challenge check or trusting another CA would let a stand-in serve the list.
        if local_vault_trust is not None and not (settings.is_development and is_loopback_host(host)):
            raise ConfigurationError("KEY_VAULT_URL", "a local vault trust is for a loopback vault in Development only")
        self._settings = settings
        self._trust = local_vault_trust
        self._client: SecretClient | None = None

    def __call__(self) -> str:
        """Return the secret's current value.

        Raises:
            FetchError: on any failure, with the vault's Retry-After when it sent one; the
                message names the secret and the cause, never the value.
        """
        from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError

        name = self._settings.secret_name
        try:
            secret = self._secret_client().get_secret(name)
        except ResourceNotFoundError:
            raise FetchError(f"Key Vault has no secret {name!r}") from None
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
        # Key Vault caps secrets at 25 KB: anything larger is not the vault's answer.
        if len(secret.value) > MAX_SECRET_CHARACTERS:
            raise FetchError(f"Key Vault secret {name!r} is larger than a secret can be")
        return secret.value

    def _secret_client(self) -> SecretClient:
        if self._client is None:
            from azure.identity import DefaultAzureCredential
            from azure.keyvault.secrets import SecretClient

            timeout = self._settings.timeout_seconds
            test_only = {}
            if self._trust is not None:
                test_only = {"connection_verify": self._trust.ca_bundle, "verify_challenge_resource": False}
            # One refresh is one bounded attempt: our refresh loop backs off and honours Retry-After.
            # The credential's own token request is bounded the same way, or a slow identity
            # endpoint would hold the caller however short KEY_VAULT_TIMEOUT_SECONDS is.
            bounded = {"retry_total": 0, "connection_timeout": timeout, "read_timeout": timeout}
            self._client = SecretClient(
                self._settings.vault_url,
                # Managed identity in Azure (AZURE_CLIENT_ID picks a user-assigned one); CLI or env locally.
                DefaultAzureCredential(process_timeout=max(1, math.ceil(timeout)), **bounded),
                **bounded,
                **test_only,
            )
        return self._client
