"""Prefetch at load: indexing the app warms keys and tenants in the background, never failing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import azure.functions as func
import pytest

import authorizer
from tests.conftest import VAULT_SECRET, ConfigureAuth, ConfigureVault, http_request, settle
from tests.support.clock import FakeClock
from tests.support.entra import PARTNER_TENANT
from tests.support.fresh_interpreter import modules_after_importing_the_app
from tests.support.issuer import HOLD, LocalIssuer, auth_environ
from tests.support.keyvault import LocalKeyVault


def build_app() -> authorizer.FunctionApp:
    app = authorizer.FunctionApp()

    @app.route(route="api/orders")
    @authorizer.require_auth()
    def orders(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("orders")

    return app


@pytest.fixture
def app(configure_auth: ConfigureAuth) -> Iterator[authorizer.FunctionApp]:
    yield build_app()


def test_indexing_fetches_metadata_and_keys_before_any_request(
    app: authorizer.FunctionApp, issuer: LocalIssuer, clock: FakeClock
) -> None:
    [function] = app.get_functions()
    settle()
    assert (issuer.count("metadata-v2"), issuer.count("jwks")) == (1, 1)
    assert function.get_user_function()(http_request(issuer.token(clock()))).status_code == 200
    assert (issuer.count("metadata-v2"), issuer.count("jwks")) == (1, 1)


def test_a_request_during_the_prefetch_joins_it(
    app: authorizer.FunctionApp, issuer: LocalIssuer, clock: FakeClock
) -> None:
    issuer.fault("metadata-v2", HOLD)
    [function] = app.get_functions()
    assert issuer.wait_for_requests("metadata-v2", 1)
    issuer.fault("metadata-v2", None)
    issuer.release_stalls()
    assert function.get_user_function()(http_request(issuer.token(clock()))).status_code == 200
    assert (issuer.count("metadata-v2"), issuer.count("jwks")) == (1, 1)


def test_indexing_neither_blocks_nor_fails_when_the_issuer_is_down(
    app: authorizer.FunctionApp, issuer: LocalIssuer, clock: FakeClock
) -> None:
    issuer.stop()
    started = time.monotonic()
    functions = app.get_functions()
    # Returning at once proves the fetch runs elsewhere (it would take the 2 s timeout here).
    assert time.monotonic() - started < 1.5
    assert len(functions) == 1
    settle()
    assert functions[0].get_user_function()(http_request(issuer.token(clock()))).status_code == 503


def test_an_app_with_only_anonymous_functions_fetches_nothing(
    configure_auth: ConfigureAuth, issuer: LocalIssuer
) -> None:
    app = authorizer.FunctionApp()

    @app.route(route="api/health")
    @authorizer.allow_anonymous
    def health(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    app.get_functions()
    assert issuer.count("metadata-v2") == 0


def test_indexing_also_reads_the_tenant_list_from_key_vault(
    configure_vault: ConfigureVault,
    vault: LocalKeyVault,
    issuer: LocalIssuer,
    clock: FakeClock,
) -> None:
    app = build_app()
    [function] = app.get_functions()
    settle()
    assert vault.read_count(VAULT_SECRET) == 1
    response = function.get_user_function()(http_request(issuer.token(clock(), tenant=PARTNER_TENANT)))
    assert response.status_code == 200
    assert vault.read_count(VAULT_SECRET) == 1


def test_loading_the_app_waits_for_the_first_key_to_import_cryptography_and_pyjwt(issuer: LocalIssuer) -> None:
    """About 40 ms of imports that nothing at load needs: the prefetch or the first request pays them."""
    assert modules_after_importing_the_app(auth_environ(issuer), ("cryptography", "jwt", "_cffi_backend")) == []
