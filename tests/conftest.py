"""Shared fixtures: every server starts here and stops by its own handle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from hypothesis import settings
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import authorizer
import authorizer._functions.runtime
from authorizer._remote.refresh import RefreshingValue
from authorizer._remote.tenants import RefreshingTenantPolicy
from tests.support.clock import FakeClock
from tests.support.entra import PARTNER_TENANT
from tests.support.issuer import LocalIssuer, auth_environ
from tests.support.keyvault import LocalKeyVault
from tests.support.managed_identity import ManagedIdentityEndpoint
from tests.support.telemetry import Telemetry

REPO = Path(__file__).resolve().parents[1]
ConfigureAuth = Callable[..., None]
ConfigureVault = Callable[..., None]
VAULT_SECRET = "allowed-tenants"

# A short fuzzing run in `make test`; `make fuzz` selects the long one.
settings.register_profile("default", max_examples=150)
settings.register_profile("long", max_examples=20_000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package built as a user builds it: `python -m build --wheel` on this checkout."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(  # noqa: S603 - our own interpreter and the build frontend
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [built] = out.glob("entra_functions_authorizer-*.whl")
    return built


@pytest.fixture(scope="session")
def sdk() -> Telemetry:
    """The process's SDK providers, set once (OpenTelemetry allows no second), as an app's distro sets them."""
    telemetry = Telemetry()
    metrics.set_meter_provider(MeterProvider(metric_readers=[telemetry.reader]))
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(telemetry.exporter))
    trace.set_tracer_provider(provider)
    return telemetry


@pytest.fixture
def telemetry(sdk: Telemetry) -> Iterator[Telemetry]:
    sdk.since()
    sdk.spans()
    yield sdk


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    server = LocalIssuer().start()
    yield server
    server.stop()


@pytest.fixture
def configure_auth(issuer: LocalIssuer, clock: FakeClock) -> Iterator[ConfigureAuth]:
    """Point the authorizer at the local issuer and the fake clock; restore defaults after."""

    def apply(**overrides: str) -> None:
        authorizer.configure(environ=auth_environ(issuer, **overrides), clock=clock, monotonic=clock)

    apply()
    yield apply
    authorizer.configure(environ=None, clock=None, monotonic=None)


# Credentials DefaultAzureCredential would try before managed identity: none may apply here.
_OTHER_CREDENTIALS = [
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_USERNAME",
    "AZURE_CLIENT_ID",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
]


@pytest.fixture
def identity(monkeypatch: pytest.MonkeyPatch) -> Iterator[ManagedIdentityEndpoint]:
    endpoint = ManagedIdentityEndpoint().start()
    for name in _OTHER_CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", endpoint.url)
    monkeypatch.setenv("IDENTITY_HEADER", endpoint.header_secret)
    yield endpoint
    endpoint.stop()


@pytest.fixture
def vault(identity: ManagedIdentityEndpoint, tmp_path: Path) -> Iterator[LocalKeyVault]:
    local = LocalKeyVault(identity, tmp_path).start()
    local.set_secret(VAULT_SECRET, json.dumps([PARTNER_TENANT]))
    yield local
    local.stop()


@pytest.fixture
def configure_vault(
    configure_auth: ConfigureAuth, vault: LocalKeyVault, issuer: LocalIssuer, clock: FakeClock
) -> Iterator[ConfigureVault]:
    def apply(**overrides: str) -> None:
        environ = auth_environ(issuer, **vault_environ(vault), KEY_VAULT_TIMEOUT_SECONDS="0.5", **overrides)
        authorizer.configure(environ=environ, clock=clock, monotonic=clock)

    apply()
    yield apply


def vault_environ(vault: LocalKeyVault) -> dict[str, str]:
    """The app settings of a local vault, as a developer sets them (Development only)."""
    return {"KEY_VAULT_URL": vault.url, "KEY_VAULT_DEV_CA_BUNDLE": str(vault.ca_bundle)}


def settle() -> None:
    """Wait until no background refresh of the shared runtime is under way (no sleeping)."""
    authenticator = authorizer._functions.runtime.current().authenticator
    authority = authenticator.authority
    values: list[RefreshingValue[Any]] = [authority.key_set, *authority.metadata.values()]
    if isinstance(authenticator.tenants, RefreshingTenantPolicy):
        values.append(authenticator.tenants.fetched)
    for value in values:
        assert value.wait_idle(30), f"{value.name} still refreshing"


def http_request(
    token: str | None = None,
    *,
    authorization: str | None = None,
    method: str = "GET",
    url: str = "http://localhost/api/orders",
    body: bytes = b"",
) -> func.HttpRequest:
    """A request as the worker hands it to a function."""
    headers = {}
    if authorization is not None:
        headers["Authorization"] = authorization
    elif token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return func.HttpRequest(method=method, url=url, headers=headers, body=body)
