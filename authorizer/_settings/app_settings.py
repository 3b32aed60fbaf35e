"""Settings: read once from app settings into one frozen object, validated at load."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from .._errors import ConfigurationError

GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
KEY_VAULT_REFERENCE_PREFIX = "@Microsoft.KeyVault("
DEFAULT_INSTANCE = "https://login.microsoftonline.com"
DEVELOPMENT = "Development"
# Entra's two kinds of tenant: a workforce tenant, and an External ID (customer) tenant on ciamlogin.com.
TENANT_TYPES = ("workforce", "external")
EXTERNAL_ID_HOST_SUFFIX = ".ciamlogin.com"

_N = TypeVar("_N", int, float)
_T = TypeVar("_T")
VERSIONS = ("1.0", "2.0")


@dataclass(frozen=True)
class AuthSettings:
    """Everything the validator needs to know about this API and its authority."""

    tenant_id: str
    client_id: str
    app_id_uri: str
    audiences: frozenset[str]
    instance: str
    allowed_tenants: frozenset[str]
    clock_skew_seconds: int
    metadata_refresh_seconds: int
    unknown_kid_cooldown_seconds: int
    fetch_retry_seconds: int
    fetch_timeout_seconds: float
    token_cache_entries: int
    token_cache_max_bytes: int
    accepted_versions: frozenset[str]
    resource_url: str | None
    dev_ca_bundle: str | None
    environment: str
    # B2B guests admitted by every function that does not say otherwise.
    allow_guests: bool = False
    # "external" for an External ID tenant, whose users sign in with social and email accounts.
    tenant_type: str = "workforce"
    # Opt-ins of telemetry: tenant and client app ids as attributes (cardinality), user ids on spans.
    telemetry_tenant_ids: bool = False
    telemetry_user_ids: bool = False
    # The client apps (azp / appid) admitted to every function; empty: any client.
    allowed_client_apps: frozenset[str] = frozenset()

    @property
    def is_development(self) -> bool:
        return self.environment == DEVELOPMENT

    @property
    def uses_loopback_instance(self) -> bool:
        return is_loopback_host(urlsplit(self.instance).hostname or "")

    def full_scope(self, scope: str) -> str:
        """The scope string a client requests from Entra, for example api://<client id>/Orders.Read."""
        return f"{self.app_id_uri.rstrip('/')}/{scope}"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> AuthSettings:
        """Build and validate the settings.

        Raises:
            ConfigurationError: naming the first setting that is missing or invalid, and holding
                every problem found in ``problems``.
        """
        reader = SettingsReader(environ)
        problems: list[ConfigurationError] = []

        def read(value: Callable[[], _T], fallback: _T) -> _T:
            # Every setting is read, so that one run names every problem, not the first.
            try:
                return value()
            except ConfigurationError as error:
                problems.append(error)
                return fallback

        tenant_id = read(lambda: reader.guid("ENTRA_TENANT_ID"), "")
        client_id = read(lambda: reader.guid("ENTRA_CLIENT_ID"), "")
        app_id_uri = read(lambda: reader.text("ENTRA_APP_ID_URI"), "") or f"api://{client_id}"
        no_names: list[str] = []
        extra_audiences = read(lambda: reader.items("ENTRA_AUDIENCES"), no_names)
        environment = read(lambda: reader.text("AZURE_FUNCTIONS_ENVIRONMENT"), "")
        development = environment == DEVELOPMENT
        instance = read(lambda: reader.https_url("ENTRA_INSTANCE", DEFAULT_INSTANCE, development), DEFAULT_INSTANCE)
        allowed = frozenset(read(lambda: reader.guid_items("ENTRA_ALLOWED_TENANTS"), no_names))

        def number(name: str, kind: Callable[[str], _N], default: _N, low: _N, high: _N) -> _N:
            return read(lambda: reader.number(name, kind, default, low, high), default)

        settings = cls(
            tenant_id=tenant_id,
            client_id=client_id,
            app_id_uri=app_id_uri,
            audiences=frozenset({client_id, f"api://{client_id}", app_id_uri, *extra_audiences}),
            instance=instance,
            allowed_tenants=allowed - {tenant_id},
            clock_skew_seconds=number("ENTRA_CLOCK_SKEW_SECONDS", int, 300, 0, 3600),
            metadata_refresh_seconds=number("ENTRA_METADATA_REFRESH_SECONDS", int, 3600, 60, 7 * 86400),
            unknown_kid_cooldown_seconds=number("ENTRA_UNKNOWN_KID_COOLDOWN_SECONDS", int, 60, 1, 3600),
            fetch_retry_seconds=number("ENTRA_FETCH_RETRY_SECONDS", int, 10, 1, 3600),
            fetch_timeout_seconds=number("ENTRA_FETCH_TIMEOUT_SECONDS", float, 5.0, 0.1, 60.0),
            token_cache_entries=number("ENTRA_TOKEN_CACHE_ENTRIES", int, 10_000, 0, 1_000_000),
            token_cache_max_bytes=number("ENTRA_TOKEN_CACHE_MAX_BYTES", int, 8 * 1024 * 1024, 0, 1 << 30),
            accepted_versions=read(lambda: reader.versions("ENTRA_ACCEPTED_TOKEN_VERSIONS"), frozenset(VERSIONS)),
            resource_url=read(lambda: reader.resource_url(development), None),
            dev_ca_bundle=read(lambda: reader.dev_ca_bundle("ENTRA_DEV_CA_BUNDLE", instance), None),
            environment=environment,
            allow_guests=read(lambda: reader.flag("ENTRA_ALLOW_GUESTS"), False),
            tenant_type=read(lambda: reader.tenant_type("ENTRA_TENANT_TYPE", instance), "workforce"),
            telemetry_tenant_ids=read(lambda: reader.flag("ENTRA_TELEMETRY_TENANT_IDS"), False),
            telemetry_user_ids=read(lambda: reader.flag("ENTRA_TELEMETRY_USER_IDS"), False),
            allowed_client_apps=frozenset(
                read(lambda: reader.guid_items("ENTRA_ALLOWED_CLIENT_APPS", "client app"), no_names)
            ),
        )
        if problems:
            raise ConfigurationError.all_of(problems)
        return settings


def is_loopback_host(host: str) -> bool:
    """True for localhost and for literal addresses in 127.0.0.0/8 or ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_guid_list(raw: str) -> list[str]:
    """Read GUIDs from a JSON array of strings, or separated by commas, whitespace or newlines.

    Raises:
        ValueError: if any entry is not a GUID (the whole value is refused, so a typo
            never silently drops a tenant). The message never repeats the value.
    """
    text = raw.strip()
    entries: list[object]
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):
            # RecursionError: a deeply nested value is no more a list of tenants than broken JSON is.
            raise ValueError("is not a valid JSON array") from None
        entries = parsed if isinstance(parsed, list) else [parsed]
    else:
        entries = [item for item in re.split(r"[\s,]+", text) if item]
    bad = [item for item in entries if not isinstance(item, str) or not GUID.fullmatch(item)]
    if bad:
        raise ValueError(f"{len(bad)} entr{'y is' if len(bad) == 1 else 'ies are'} not a GUID")
    return [str(item).lower() for item in entries]


class SettingsReader:
    """Reads raw app settings, refusing unresolved Key Vault references everywhere."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str) -> str:
        value = (self._environ.get(name) or "").strip()
        # An unresolved reference reaches the app as the literal string: it is never data.
        if value.startswith(KEY_VAULT_REFERENCE_PREFIX):
            raise ConfigurationError(
                name,
                "is an unresolved Key Vault reference; check the app's managed identity and its access to the vault",
            )
        return value

    def guid(self, name: str) -> str:
        value = self.text(name)
        if not value:
            raise ConfigurationError(name, "is required")
        if not GUID.fullmatch(value):
            raise ConfigurationError(name, "must be a GUID")
        return value.lower()

    def flag(self, name: str) -> bool:
        value = self.text(name).lower()
        if value not in ("", "true", "false"):
            raise ConfigurationError(name, "must be true or false")
        return value == "true"

    def items(self, name: str) -> list[str]:
        return [item.strip() for item in self.text(name).split(",") if item.strip()]

    def guid_items(self, name: str, what: str = "tenant") -> list[str]:
        try:
            return parse_guid_list(self.text(name))
        except ValueError as error:
            raise ConfigurationError(name, f"must list {what} GUIDs: {error}") from None

    def number(self, name: str, kind: Callable[[str], _N], default: _N, low: _N, high: _N) -> _N:
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = kind(raw)
        except ValueError:
            raise ConfigurationError(name, f"must be a number, got {raw!r}") from None
        if not low <= value <= high:
            raise ConfigurationError(name, f"must be between {low} and {high}")
        return value

    def dev_ca_bundle(self, name: str, instance: str) -> str | None:
        """A throwaway CA for the local issuer; meaningless, and refused, for any real authority."""
        path = self.text(name)
        if not path:
            return None
        if not is_loopback_host(urlsplit(instance).hostname or ""):
            raise ConfigurationError(name, "is for a local issuer only (a loopback ENTRA_INSTANCE)")
        return path

    def tenant_type(self, name: str, instance: str) -> str:
        """workforce or external; by default, external for an instance on ciamlogin.com."""
        value = self.text(name).lower()
        if not value:
            host = urlsplit(instance).hostname or ""
            return "external" if host.endswith(EXTERNAL_ID_HOST_SUFFIX) else "workforce"
        if value not in TENANT_TYPES:
            raise ConfigurationError(name, "must be workforce or external (an External ID tenant)")
        return value

    def versions(self, name: str) -> frozenset[str]:
        raw = self.items(name) or ["1.0", "2.0"]
        versions = frozenset("1.0" if item in ("1", "1.0") else "2.0" if item in ("2", "2.0") else item for item in raw)
        if not versions <= {"1.0", "2.0"}:
            raise ConfigurationError(name, "must list 1.0 and/or 2.0")
        return versions

    def resource_url(self, development: bool) -> str | None:
        """This API's public origin, for RFC 9728 metadata: the setting, or the platform's host name.

        Never taken from a request's Host header, which the client controls.
        """
        configured = self.text("PROTECTED_RESOURCE_URL")
        if configured:
            return self.https_url("PROTECTED_RESOURCE_URL", "https://<app>.azurewebsites.net", development)
        host = self.text("WEBSITE_HOSTNAME")
        if not host:
            return None
        local = is_loopback_host(host.rsplit(":", 1)[0])
        return f"{'http' if local else 'https'}://{host.lower()}"

    def https_url(self, name: str, default: str, development: bool) -> str:
        """An https origin; http, or a loopback host, only as a local development tool.

        Raises:
            ConfigurationError: naming the setting.
        """
        raw = self.text(name) or default
        parts = urlsplit(raw)
        host = parts.hostname or ""
        if parts.scheme not in ("https", "http") or not host:
            raise ConfigurationError(name, "must be an absolute https:// URL")
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            raise ConfigurationError(name, f"must be a bare https origin such as {default}")
        loopback = is_loopback_host(host)
        # Plain http would let anyone on the path swap what we trust (keys, tenants).
        if parts.scheme == "http" and not loopback:
            raise ConfigurationError(name, "may use http:// only for a loopback host")
        # A loopback service is a development tool; in Azure it would trust a local stand-in.
        if loopback and not development:
            raise ConfigurationError(
                name, "points at a loopback host, allowed only when AZURE_FUNCTIONS_ENVIRONMENT=Development"
            )
        return f"{parts.scheme}://{parts.netloc.lower()}"
