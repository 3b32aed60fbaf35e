"""This app's own settings: where its allowed-tenants list lives in Key Vault."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from authorizer.errors import ConfigurationError
from authorizer.settings import DEVELOPMENT, SettingsReader

# Key Vault secret names: 1-127 letters, digits and dashes.
_SECRET_NAME = re.compile(r"[0-9A-Za-z-]{1,127}")


@dataclass(frozen=True)
class KeyVaultSettings:
    """The vault and secret that hold the allowed tenants, and how fresh the list must be."""

    vault_url: str
    secret_name: str
    refresh_seconds: int
    max_age_seconds: int
    timeout_seconds: float
    is_development: bool

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> KeyVaultSettings | None:
        """The settings, or None when KEY_VAULT_URL is unset (the static list only).

        Raises:
            ConfigurationError: naming the first setting that is invalid.
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
        return cls(
            vault_url=vault_url,
            secret_name=secret_name,
            refresh_seconds=refresh,
            max_age_seconds=max_age,
            timeout_seconds=reader.number("KEY_VAULT_TIMEOUT_SECONDS", float, 5.0, 0.1, 60.0),
            is_development=development,
        )
