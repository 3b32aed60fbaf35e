"""Allowed tenants from Key Vault, with the real SecretClient and DefaultAzureCredential.

A local HTTPS vault (throwaway CA, the 401 challenge flow, versioned secrets, faults) and a
local App Service managed-identity endpoint stand in for Azure; everything else is real.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from pathlib import Path

import azure.functions as func
import pytest

import authorizer
import authorizer._functions.runtime
from authorizer import require_auth
from authorizer._errors import ConfigurationError
from authorizer._remote.key_vault import KeyVaultSettings
from authorizer._remote.refresh import RefreshingValue
from authorizer._remote.tenants import RefreshingTenantPolicy
from tests.conftest import VAULT_SECRET, ConfigureVault, http_request, settle
from tests.support.clock import FakeClock
from tests.support.entra import HOME_TENANT, PARTNER_TENANT, STRANGER_TENANT
from tests.support.fresh_interpreter import modules_after_importing_the_app
from tests.support.issuer import LocalIssuer, auth_environ
from tests.support.keyvault import LocalKeyVault, VaultFault
from tests.support.managed_identity import ManagedIdentityEndpoint

REPO = Path(__file__).resolve().parents[1]
SECRET = VAULT_SECRET
NEWCOMER = "44444444-4444-4444-8444-444444444444"
REFRESH = 300
MAX_AGE = 86400


@pytest.fixture
def protected(configure_vault: ConfigureVault) -> func.Function:
    @require_auth(scopes=["Orders.Read"])
    def list_orders(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("orders")

    return list_orders  # type: ignore[return-value]


class Callers:
    def __init__(self, protected: func.Function, issuer: LocalIssuer, clock: FakeClock) -> None:
        self.protected, self.issuer, self.clock = protected, issuer, clock

    def status(self, tenant: str) -> int:
        return int(self.protected(http_request(self.issuer.token(self.clock(), tenant=tenant))).status_code)

    def statuses(self, *tenants: str) -> list[int]:
        return [self.status(tenant) for tenant in tenants]


@pytest.fixture
def callers(protected: func.Function, issuer: LocalIssuer, clock: FakeClock) -> Callers:
    return Callers(protected, issuer, clock)


def test_the_secret_is_read_with_the_real_sdk_through_managed_identity(
    callers: Callers, vault: LocalKeyVault, identity: ManagedIdentityEndpoint
) -> None:
    assert callers.statuses(HOME_TENANT, PARTNER_TENANT, STRANGER_TENANT) == [200, 200, 403]
    assert vault.challenges >= 1
    assert vault.read_count(SECRET) == 1
    assert identity.requests[0]["resource"] == "https://vault.azure.net"
    assert "client_id" not in identity.requests[0]


def test_a_user_assigned_identity_is_chosen_by_azure_client_id(
    callers: Callers, identity: ManagedIdentityEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_CLIENT_ID", "99999999-0000-4000-8000-00000000c11d")
    assert callers.status(PARTNER_TENANT) == 200
    assert identity.requests[0]["client_id"] == "99999999-0000-4000-8000-00000000c11d"


def test_a_tenant_added_to_the_secret_is_accepted_within_the_refresh_period(
    callers: Callers, vault: LocalKeyVault, clock: FakeClock
) -> None:
    assert callers.status(NEWCOMER) == 403
    vault.set_secret(SECRET, json.dumps([PARTNER_TENANT, NEWCOMER]))
    clock.advance(REFRESH - 1)
    assert callers.status(NEWCOMER) == 403
    clock.advance(1)
    # The first request after the period starts the refresh and is answered from the last list.
    callers.status(NEWCOMER)
    settle()
    assert callers.status(NEWCOMER) == 200
    assert vault.read_count(SECRET) == 2


def test_a_tenant_removed_from_the_secret_is_refused_after_the_refresh_period(
    callers: Callers, vault: LocalKeyVault, clock: FakeClock
) -> None:
    assert callers.status(PARTNER_TENANT) == 200
    vault.set_secret(SECRET, "[]")
    clock.advance(REFRESH)
    callers.status(PARTNER_TENANT)
    settle()
    assert callers.statuses(PARTNER_TENANT, HOME_TENANT) == [403, 200]


def test_entra_allowed_tenants_add_to_the_vault_list(
    configure_vault: ConfigureVault, protected: func.Function, issuer: LocalIssuer, clock: FakeClock
) -> None:
    configure_vault(ENTRA_ALLOWED_TENANTS=NEWCOMER)
    callers = Callers(protected, issuer, clock)
    assert callers.statuses(NEWCOMER, PARTNER_TENANT, STRANGER_TENANT) == [200, 200, 403]


@pytest.mark.parametrize(
    "value",
    [
        json.dumps([PARTNER_TENANT, NEWCOMER]),
        f"{PARTNER_TENANT},{NEWCOMER}",
        f"{PARTNER_TENANT} {NEWCOMER}",
        f"{PARTNER_TENANT}\n{NEWCOMER}\n",
        f" {PARTNER_TENANT.upper()} ,\n {NEWCOMER} ",
    ],
    ids=["json-array", "commas", "spaces", "newlines", "mixed-case-and-padding"],
)
def test_the_secret_may_be_a_json_array_or_separated_guids(callers: Callers, vault: LocalKeyVault, value: str) -> None:
    vault.set_secret(SECRET, value)
    assert callers.statuses(PARTNER_TENANT, NEWCOMER, STRANGER_TENANT) == [200, 200, 403]


@pytest.mark.parametrize(
    "value",
    [
        f"{PARTNER_TENANT},contoso.onmicrosoft.com",
        f'["{PARTNER_TENANT}", 7]',
        "[not json",
        f"{PARTNER_TENANT};{NEWCOMER}",
        # Once read as an empty list, dropping every partner tenant.
        "",
        " \n\t ",
        # Once a RecursionError rather than the documented refusal.
        "[" * 12_000 + "]" * 12_000,
        # Once read as an empty list: separators that name no tenant are no more "no partners" than "" is.
        ",",
        " , ",
        ",\n,",
    ],
    ids=[
        "domain-name",
        "non-string",
        "broken-json",
        "semicolons",
        "empty",
        "whitespace",
        "deeply-nested",
        "comma",
        "spaced-comma",
        "commas-on-lines",
    ],
)
def test_a_malformed_value_keeps_the_last_good_list_and_names_only_the_secret(
    callers: Callers, vault: LocalKeyVault, clock: FakeClock, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    assert callers.status(PARTNER_TENANT) == 200
    vault.set_secret(SECRET, value.replace(PARTNER_TENANT, NEWCOMER, 1) if "json" in value else value)
    clock.advance(REFRESH)
    callers.status(PARTNER_TENANT)
    settle()
    assert callers.statuses(PARTNER_TENANT, NEWCOMER) == [200, 403]
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert errors, "a refused secret value must be logged as an error"
    # The documented refusal, naming the secret; not a loader's traceback.
    assert all(SECRET in record.getMessage() and "was refused" in record.getMessage() for record in errors)
    assert not any(
        PARTNER_TENANT in record.getMessage() or "onmicrosoft" in record.getMessage() for record in caplog.records
    )


FAULTS: dict[str, VaultFault | None] = {
    "vault-down": None,
    "http-401": VaultFault(status=401),
    "http-403": VaultFault(status=403),
    "secret-missing": VaultFault(status=404),
    "http-429": VaultFault(status=429, headers={"Retry-After": "30"}),
    "http-500": VaultFault(status=500),
    "http-503": VaultFault(status=503),
    "slow-past-timeout": VaultFault(stall=True),
    "dropped-connection": VaultFault(drop=True),
    "html-not-json": VaultFault(body=b"<html><body>Service Unavailable</body></html>", content_type="text/html"),
    "json-wrong-shape": VaultFault(body=b'{"values": ["not", "a", "secret"]}'),
    "10-mb-body": VaultFault(body=b'{"value": "' + b"1" * (10 * 1024 * 1024) + b'"}'),
    "tls-untrusted": None,
}


def tenant_list() -> RefreshingValue[frozenset[str]]:
    tenants = authorizer._functions.runtime.current().authenticator.tenants
    assert isinstance(tenants, RefreshingTenantPolicy)
    return tenants.fetched


def break_vault(vault: LocalKeyVault, fault_name: str) -> None:
    if fault_name == "vault-down":
        vault.stop()
    elif fault_name == "tls-untrusted":
        vault.stop()
        vault.untrusted_certificate = True
        vault.start()
    else:
        vault.set_fault(FAULTS[fault_name])


def heal_vault(vault: LocalKeyVault, fault_name: str) -> None:
    vault.set_fault(None)
    vault.release()
    if fault_name in ("vault-down", "tls-untrusted"):
        vault.stop()
        vault.untrusted_certificate = False
        vault.start()


@pytest.mark.parametrize("fault_name", FAULTS)
def test_a_failing_vault_keeps_the_last_good_list(
    fault_name: str, callers: Callers, vault: LocalKeyVault, clock: FakeClock
) -> None:
    assert callers.statuses(PARTNER_TENANT, STRANGER_TENANT) == [200, 403]
    break_vault(vault, fault_name)
    clock.advance(REFRESH)
    observed = callers.statuses(PARTNER_TENANT, STRANGER_TENANT)
    settle()
    clock.advance(31)
    observed += callers.statuses(PARTNER_TENANT, STRANGER_TENANT)
    settle()
    assert observed == [200, 403, 200, 403]
    assert tenant_list().last_attempt_failed, "the fault did not reach the refresh"
    heal_vault(vault, fault_name)
    vault.set_secret(SECRET, json.dumps([STRANGER_TENANT]))
    clock.advance(31)
    callers.status(HOME_TENANT)
    callers.status(STRANGER_TENANT)
    settle()
    assert callers.statuses(PARTNER_TENANT, STRANGER_TENANT) == [403, 200]
    assert not tenant_list().last_attempt_failed


@pytest.mark.parametrize("fault_name", FAULTS)
def test_cold_and_unreadable_the_home_tenant_passes_and_others_get_503(
    fault_name: str, callers: Callers, vault: LocalKeyVault, clock: FakeClock
) -> None:
    break_vault(vault, fault_name)
    started = time.monotonic()
    assert callers.statuses(HOME_TENANT, PARTNER_TENANT, STRANGER_TENANT) == [200, 503, 503]
    # Cold: answered within the vault timeout (0.5 s here, the token's own fetches being warm).
    assert time.monotonic() - started < 0.5 + 3
    heal_vault(vault, fault_name)
    clock.advance(31)
    assert callers.statuses(PARTNER_TENANT, STRANGER_TENANT) == [200, 403]


def test_a_503_for_the_tenant_list_says_when_to_retry(
    protected: func.Function, vault: LocalKeyVault, issuer: LocalIssuer, clock: FakeClock
) -> None:
    vault.set_fault(VaultFault(status=429, headers={"Retry-After": "120"}))
    response = protected(http_request(issuer.token(clock(), tenant=PARTNER_TENANT)))
    assert response.status_code == 503
    assert json.loads(response.get_body())["error"] == "temporarily_unavailable"
    assert int(response.headers["Retry-After"]) >= 119


def test_a_429_retry_after_is_respected(callers: Callers, vault: LocalKeyVault, clock: FakeClock) -> None:
    vault.set_fault(VaultFault(status=429, headers={"Retry-After": "120"}))
    assert callers.status(PARTNER_TENANT) == 503
    vault.set_fault(None)
    clock.advance(60)
    assert callers.status(PARTNER_TENANT) == 503
    assert vault.read_count(SECRET) == 1
    clock.advance(61)
    assert callers.status(PARTNER_TENANT) == 200
    assert vault.read_count(SECRET) == 2


def test_concurrent_cold_requests_make_one_vault_read(
    protected: func.Function, vault: LocalKeyVault, issuer: LocalIssuer, clock: FakeClock
) -> None:
    # Warm the keys first so that only the tenant list is cold.
    assert protected(http_request(issuer.token(clock()))).status_code == 200
    vault.set_fault(VaultFault(stall=True, then_answer=True))
    tokens = [issuer.token(clock(), tenant=PARTNER_TENANT) for _ in range(20)]
    statuses: list[int] = []
    start = threading.Barrier(len(tokens) + 1)

    def call(token: str) -> None:
        start.wait()
        statuses.append(protected(http_request(token)).status_code)

    threads = [threading.Thread(target=call, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    start.wait()
    assert vault.wait_for_reads(SECRET, 1)
    vault.set_fault(None)
    vault.release()
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == [200] * len(tokens)
    assert vault.read_count(SECRET) == 1


def test_past_the_maximum_age_requests_wait_for_the_refresh(
    callers: Callers, vault: LocalKeyVault, clock: FakeClock
) -> None:
    assert callers.status(PARTNER_TENANT) == 200
    vault.set_secret(SECRET, "[]")
    clock.advance(MAX_AGE)
    # No settle: this request itself waits for the new list.
    assert callers.status(PARTNER_TENANT) == 403


def test_past_the_maximum_age_an_unreadable_vault_refuses_partners_with_503(
    callers: Callers, vault: LocalKeyVault, clock: FakeClock
) -> None:
    # The last list once answered for as long as the vault stayed unreadable: a removed tenant kept access.
    assert callers.status(PARTNER_TENANT) == 200
    vault.stop()
    clock.advance(MAX_AGE - 1)
    assert callers.statuses(HOME_TENANT, PARTNER_TENANT, STRANGER_TENANT) == [200, 200, 403]
    settle()
    clock.advance(2)
    assert callers.statuses(HOME_TENANT, PARTNER_TENANT, STRANGER_TENANT) == [200, 503, 503]
    vault.start()
    clock.advance(REFRESH)
    assert callers.statuses(PARTNER_TENANT, STRANGER_TENANT) == [200, 403]


@pytest.mark.parametrize("retry_after", [str(3 * 86400), "9" * 400, "²"])
def test_a_vault_retry_after_never_holds_a_removed_tenant_past_the_max_age(
    callers: Callers, vault: LocalKeyVault, clock: FakeClock, retry_after: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert callers.status(PARTNER_TENANT) == 200
    vault.set_fault(VaultFault(status=429, headers={"Retry-After": retry_after}))
    clock.advance(REFRESH)
    assert callers.status(PARTNER_TENANT) == 200
    settle()
    vault.set_fault(None)
    vault.set_secret(SECRET, json.dumps([NEWCOMER]))
    # A vault's 429 for three days once kept the removed tenant in for three days.
    clock.advance(REFRESH + 1)
    callers.status(HOME_TENANT)
    callers.status(PARTNER_TENANT)
    settle()
    assert callers.statuses(PARTNER_TENANT, NEWCOMER) == [403, 200]
    # An unreadable header is no reason for a traceback ("²" once raised ValueError while parsed).
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_an_async_function_reads_the_vault_off_the_event_loop(
    configure_vault: ConfigureVault, issuer: LocalIssuer, clock: FakeClock
) -> None:
    @require_auth()
    async def me(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("me")

    async def scenario() -> list[int]:
        responses = await asyncio.gather(
            *(
                me(req=http_request(issuer.token(clock(), tenant=tenant)))
                for tenant in (PARTNER_TENANT, STRANGER_TENANT)
            )
        )
        return [response.status_code for response in responses]

    assert asyncio.run(scenario()) == [200, 403]


@pytest.mark.parametrize(
    ("values", "setting"),
    [
        ({"KEY_VAULT_URL": "http://contoso.vault.azure.net"}, "KEY_VAULT_URL"),
        ({"KEY_VAULT_URL": "https://127.0.0.1:8443"}, "KEY_VAULT_URL"),
        ({"KEY_VAULT_URL": "https://contoso.vault.azure.net/secrets"}, "KEY_VAULT_URL"),
        ({"KEY_VAULT_URL": "@Microsoft.KeyVault(VaultName=x;SecretName=y)"}, "KEY_VAULT_URL"),
        (
            {"KEY_VAULT_URL": "https://kv.vault.azure.net", "ALLOWED_TENANTS_SECRET_NAME": "bad_name"},
            "ALLOWED_TENANTS_SECRET_NAME",
        ),
        (
            {"KEY_VAULT_URL": "https://kv.vault.azure.net", "ALLOWED_TENANTS_REFRESH_SECONDS": "0"},
            "ALLOWED_TENANTS_REFRESH_SECONDS",
        ),
        (
            {"KEY_VAULT_URL": "https://kv.vault.azure.net", "ALLOWED_TENANTS_MAX_AGE_SECONDS": "100"},
            "ALLOWED_TENANTS_MAX_AGE_SECONDS",
        ),
        # A dev CA (and no check of the challenge's resource) for a real vault would let a stand-in serve the list.
        (
            {"KEY_VAULT_URL": "https://kv.vault.azure.net", "KEY_VAULT_DEV_CA_BUNDLE": "local-ca.pem"},
            "KEY_VAULT_DEV_CA_BUNDLE",
        ),
        (
            {"KEY_VAULT_URL": "https://127.0.0.1:8443", "KEY_VAULT_DEV_CA_BUNDLE": "local-ca.pem"},
            "KEY_VAULT_URL",
        ),
    ],
)
def test_key_vault_settings_are_validated_at_load(values: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        KeyVaultSettings.from_environ(values)
    assert caught.value.setting == setting


def test_key_vault_settings_defaults() -> None:
    settings = KeyVaultSettings.from_environ({"KEY_VAULT_URL": "https://contoso.vault.azure.net/"})
    assert settings == KeyVaultSettings(
        vault_url="https://contoso.vault.azure.net",
        secret_name="allowed-tenants",
        refresh_seconds=300,
        max_age_seconds=86400,
        timeout_seconds=5.0,
        dev_ca_bundle=None,
    )
    assert KeyVaultSettings.from_environ({}) is None


AZURE_SDK = ("azure.identity", "azure.keyvault")


def test_an_app_without_a_vault_never_imports_the_azure_sdk(issuer: LocalIssuer) -> None:
    environment = auth_environ(issuer)
    assert "KEY_VAULT_URL" not in environment
    assert modules_after_importing_the_app(environment, AZURE_SDK) == []


def test_with_a_vault_the_sdk_waits_for_the_first_read(issuer: LocalIssuer) -> None:
    environment = auth_environ(issuer, KEY_VAULT_URL="https://contoso.vault.azure.net")
    assert modules_after_importing_the_app(environment, AZURE_SDK) == []


def test_a_slow_managed_identity_endpoint_is_bounded_by_the_vault_timeout(
    protected: func.Function,
    identity: ManagedIdentityEndpoint,
    issuer: LocalIssuer,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Warm the keys, so that only the tenant list (credential, then vault) is cold.
    assert protected(http_request(issuer.token(clock()))).status_code == 200
    identity.hold()
    answers: list[int] = []
    caller = threading.Thread(
        target=lambda: answers.append(protected(http_request(issuer.token(clock(), tenant=PARTNER_TENANT))).status_code)
    )
    try:
        caller.start()
        assert identity.wait_for_requests(1)
        # KEY_VAULT_TIMEOUT_SECONDS is 0.5: the token request once held the caller for as long as the endpoint liked.
        caller.join(timeout=3 * 0.5 + 2)
        assert not caller.is_alive(), "the credential's token request was not bounded by the vault timeout"
        assert answers == [503]
    finally:
        identity.release()
        caller.join(timeout=10)
    failures = [record.getMessage() for record in caplog.records if "refresh failed" in record.getMessage()]
    # Once "Key Vault answered None reading secret ...": say what happened.
    assert failures and all("None" not in message for message in failures)
    assert all("managed identity" in message or "credential" in message for message in failures)
