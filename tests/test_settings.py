"""Settings: one frozen object, validated at load, every error naming its setting."""

from __future__ import annotations

import dataclasses

import pytest

from authorizer import AuthSettings, ConfigurationError
from tests.support.entra import CLIENT_ID, HOME_TENANT, PARTNER_TENANT

BASE = {"ENTRA_TENANT_ID": HOME_TENANT, "ENTRA_CLIENT_ID": CLIENT_ID}


def load(**values: str) -> AuthSettings:
    return AuthSettings.from_environ({**BASE, **values})


def refusal(**values: str) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as caught:
        AuthSettings.from_environ({**BASE, **values})
    return caught.value


def test_defaults_follow_the_documented_table() -> None:
    settings = load()
    assert settings.tenant_id == HOME_TENANT
    assert settings.instance == "https://login.microsoftonline.com"
    assert settings.audiences == {CLIENT_ID, f"api://{CLIENT_ID}"}
    assert settings.allowed_tenants == frozenset()
    assert settings.clock_skew_seconds == 300
    assert settings.metadata_refresh_seconds == 3600
    assert settings.unknown_kid_cooldown_seconds == 60
    assert settings.fetch_retry_seconds == 10
    assert settings.fetch_timeout_seconds == 5.0


def test_settings_are_frozen() -> None:
    settings = load()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.clock_skew_seconds = 0  # type: ignore[misc]


def test_extra_audiences_and_app_id_uri_are_accepted_besides_the_client_id() -> None:
    settings = load(ENTRA_AUDIENCES=" https://api.contoso.com , other ", ENTRA_APP_ID_URI="https://contoso.com/orders")
    assert settings.audiences == {
        CLIENT_ID,
        f"api://{CLIENT_ID}",
        "https://contoso.com/orders",
        "https://api.contoso.com",
        "other",
    }
    assert settings.full_scope("Orders.Read") == "https://contoso.com/orders/Orders.Read"


def test_allowed_tenants_are_normalised_and_exclude_the_home_tenant() -> None:
    settings = load(ENTRA_ALLOWED_TENANTS=f"{PARTNER_TENANT.upper()}, {HOME_TENANT}")
    assert settings.allowed_tenants == {PARTNER_TENANT}


@pytest.mark.parametrize(
    ("values", "setting"),
    [
        ({"ENTRA_TENANT_ID": ""}, "ENTRA_TENANT_ID"),
        ({"ENTRA_TENANT_ID": "contoso.onmicrosoft.com"}, "ENTRA_TENANT_ID"),
        ({"ENTRA_CLIENT_ID": "not-a-guid"}, "ENTRA_CLIENT_ID"),
        ({"ENTRA_ALLOWED_TENANTS": f"{PARTNER_TENANT}, typo-tenant"}, "ENTRA_ALLOWED_TENANTS"),
        ({"ENTRA_CLOCK_SKEW_SECONDS": "five"}, "ENTRA_CLOCK_SKEW_SECONDS"),
        ({"ENTRA_CLOCK_SKEW_SECONDS": "-1"}, "ENTRA_CLOCK_SKEW_SECONDS"),
        ({"ENTRA_FETCH_TIMEOUT_SECONDS": "0"}, "ENTRA_FETCH_TIMEOUT_SECONDS"),
        ({"ENTRA_METADATA_REFRESH_SECONDS": "1"}, "ENTRA_METADATA_REFRESH_SECONDS"),
        ({"ENTRA_INSTANCE": "login.microsoftonline.com"}, "ENTRA_INSTANCE"),
        ({"ENTRA_INSTANCE": "https://login.microsoftonline.com/common"}, "ENTRA_INSTANCE"),
        ({"ENTRA_INSTANCE": "http://login.microsoftonline.com"}, "ENTRA_INSTANCE"),
        ({"ENTRA_INSTANCE": "ftp://127.0.0.1"}, "ENTRA_INSTANCE"),
    ],
)
def test_a_bad_value_fails_at_load_naming_the_setting(values: dict[str, str], setting: str) -> None:
    error = refusal(**values)
    assert error.setting == setting
    assert str(error).startswith(setting)


def test_an_unresolved_key_vault_reference_is_a_configuration_error_never_data() -> None:
    reference = "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/client-id/)"
    error = refusal(ENTRA_CLIENT_ID=reference)
    assert error.setting == "ENTRA_CLIENT_ID"
    assert "Key Vault reference" in error.problem
    assert refusal(ENTRA_AUDIENCES=reference).setting == "ENTRA_AUDIENCES"


@pytest.mark.parametrize(
    "instance",
    ["http://127.0.0.1:8080", "http://127.9.9.9", "http://localhost:5000", "http://[::1]:7000", "https://127.0.0.1"],
)
def test_a_loopback_instance_is_accepted_in_development(instance: str) -> None:
    assert load(ENTRA_INSTANCE=instance, AZURE_FUNCTIONS_ENVIRONMENT="Development").instance == instance.lower()


@pytest.mark.parametrize("environment", ["", "Production", "Staging"])
def test_a_loopback_instance_is_refused_outside_development(environment: str) -> None:
    error = refusal(ENTRA_INSTANCE="http://127.0.0.1:8080", AZURE_FUNCTIONS_ENVIRONMENT=environment)
    assert error.setting == "ENTRA_INSTANCE"
    assert "Development" in error.problem


@pytest.mark.parametrize(
    "instance",
    [
        "https://login.microsoftonline.us",
        "https://login.partner.microsoftonline.cn",
        "https://contoso.ciamlogin.com",
        "https://login.microsoftonline.com/",
    ],
)
def test_sovereign_clouds_and_external_id_are_plain_instances(instance: str) -> None:
    assert load(ENTRA_INSTANCE=instance).instance == instance.rstrip("/")
