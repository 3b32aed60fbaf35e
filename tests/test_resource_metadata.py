"""RFC 9728 protected resource metadata, and where challenges point to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import azure.functions as func
import pytest

import authorizer
import authorizer._functions.runtime
from authorizer import require_auth
from tests.conftest import ConfigureAuth, http_request
from tests.support.clock import FakeClock
from tests.support.entra import APP_ID_URI, HOME_TENANT, PARTNER_TENANT, v2_issuer
from tests.support.issuer import LocalIssuer, status
from tests.support.modules import import_module_from

RESOURCE = "https://orders.contoso.example"


def build_app() -> authorizer.FunctionApp:
    authorizer.define_permissions({"Crm.Read.Team": ["Accounts.Read.Team"], "Crm.Read.All": ["Accounts.Read.All"]})
    app = authorizer.FunctionApp()
    crm = authorizer.Blueprint()

    @app.route(route="api/orders")
    @require_auth(scopes=["Orders.Read"], app_roles=["Orders.Read.All"])
    def orders(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("orders")

    @crm.route(route="api/accounts")
    @require_auth(permissions=["Accounts.Read.All"])
    def accounts(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("accounts")

    @app.route(route="api/daemon")
    @require_auth(app_roles=["Jobs.Run"])
    def daemon(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("daemon")

    app.register_functions(crm)
    app.serve_protected_resource_metadata()
    return app


def metadata_function(app: authorizer.FunctionApp) -> func.Function:
    functions = {function.get_function_name(): function for function in app.get_functions()}
    return functions["oauth_protected_resource"]


def test_the_document_describes_this_api_and_the_scopes_its_functions_use(
    configure_auth: ConfigureAuth, issuer: LocalIssuer
) -> None:
    configure_auth(PROTECTED_RESOURCE_URL=RESOURCE)
    function = metadata_function(build_app())
    assert json.loads(function.get_function_json())["bindings"][0]["route"] == ".well-known/oauth-protected-resource"
    response = function.get_user_function()(http_request(url=f"{RESOURCE}/.well-known/oauth-protected-resource"))
    assert response.status_code == 200
    assert json.loads(response.get_body()) == {
        "resource": RESOURCE,
        "authorization_servers": [v2_issuer(issuer.base_url, HOME_TENANT)],
        "scopes_supported": [f"{APP_ID_URI}/Crm.Read.All", f"{APP_ID_URI}/Orders.Read"],
        "bearer_methods_supported": ["header"],
        "resource_name": APP_ID_URI,
    }


def test_a_multi_tenant_api_names_its_home_tenant_issuer_from_discovery(
    configure_auth: ConfigureAuth, issuer: LocalIssuer
) -> None:
    configure_auth(PROTECTED_RESOURCE_URL=RESOURCE, ENTRA_ALLOWED_TENANTS=PARTNER_TENANT)
    response = metadata_function(build_app()).get_user_function()(http_request())
    # Discovery at /organizations says {tenantid}; the document resolves it for the home tenant.
    assert json.loads(response.get_body())["authorization_servers"] == [v2_issuer(issuer.base_url, HOME_TENANT)]
    assert issuer.paths[0].startswith("/organizations/")


def test_the_platform_host_name_serves_when_no_url_is_set(configure_auth: ConfigureAuth) -> None:
    configure_auth(WEBSITE_HOSTNAME="orders-api.azurewebsites.net")
    response = metadata_function(build_app()).get_user_function()(http_request())
    assert json.loads(response.get_body())["resource"] == "https://orders-api.azurewebsites.net"


def test_without_a_resource_url_the_document_is_not_served(configure_auth: ConfigureAuth) -> None:
    response = metadata_function(build_app()).get_user_function()(http_request())
    assert response.status_code == 404
    assert "PROTECTED_RESOURCE_URL" in json.loads(response.get_body())["error_description"]


def test_discovery_down_is_503(configure_auth: ConfigureAuth, issuer: LocalIssuer) -> None:
    configure_auth(PROTECTED_RESOURCE_URL=RESOURCE)
    issuer.fault("metadata-v2", status(500))
    response = metadata_function(build_app()).get_user_function()(http_request())
    assert response.status_code == 503


def test_a_forged_host_header_changes_nothing(configure_auth: ConfigureAuth) -> None:
    configure_auth(PROTECTED_RESOURCE_URL=RESOURCE)
    request = func.HttpRequest(
        method="GET",
        url="https://evil.example/.well-known/oauth-protected-resource",
        headers={"Host": "evil.example"},
        body=b"",
    )
    response = metadata_function(build_app()).get_user_function()(request)
    assert json.loads(response.get_body())["resource"] == RESOURCE


@pytest.fixture
def metadata_flag() -> Iterator[None]:
    """Whatever a test's app declares, the next test starts with no document served."""
    authorizer._functions.runtime.serve_metadata(False)
    yield
    authorizer._functions.runtime.serve_metadata(False)


@pytest.mark.parametrize(("url_known", "served"), [(True, True), (True, False), (False, True)])
def test_401_challenges_point_to_the_document_only_where_it_is_served(
    url_known: bool,
    served: bool,
    metadata_flag: None,
    configure_auth: ConfigureAuth,
    issuer: LocalIssuer,
    clock: FakeClock,
) -> None:
    if url_known:
        configure_auth(PROTECTED_RESOURCE_URL=RESOURCE)
    # Serving is declared by the app; without it a challenge would name a missing page.
    if served:
        build_app()

    @require_auth(scopes=["Orders.Read"])
    def orders(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("orders")

    challenges = [
        orders(http_request()).headers["WWW-Authenticate"],
        orders(http_request(issuer.token(clock(), exp=int(clock()) - 3600))).headers["WWW-Authenticate"],
    ]
    parameter = f'resource_metadata="{RESOURCE}/.well-known/oauth-protected-resource"'
    assert all((parameter in challenge) == (url_known and served) for challenge in challenges)
    forbidden = orders(http_request(issuer.token(clock(), scp="Other"))).headers["WWW-Authenticate"]
    assert "resource_metadata" not in forbidden


def test_the_resource_url_must_be_https(configure_auth: ConfigureAuth) -> None:
    with pytest.raises(authorizer.ConfigurationError) as caught:
        configure_auth(PROTECTED_RESOURCE_URL="http://orders.contoso.example")
        authorizer._functions.runtime.settings()
    assert caught.value.setting == "PROTECTED_RESOURCE_URL"


def test_under_a_route_prefix_serving_the_document_fails_at_import_with_the_fix(
    configure_auth: ConfigureAuth, tmp_path: Path
) -> None:
    # The host's default host.json: every route under /api/, where no OAuth client looks for RFC 9728.
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0"}))
    (tmp_path / "metadata_under_a_prefix_app.py").write_text(
        "import authorizer\napp = authorizer.FunctionApp()\napp.serve_protected_resource_metadata()\n"
    )
    with pytest.raises(authorizer.ConfigurationError) as caught:
        import_module_from(tmp_path, "metadata_under_a_prefix_app")
    assert caught.value.setting == "routePrefix"
    assert '"routePrefix": ""' in caught.value.problem
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0", "extensions": {"http": {"routePrefix": ""}}}))
    assert import_module_from(tmp_path, "metadata_under_a_prefix_app").app is not None
