"""Every refusal as a client sees it: status, challenge, headers and a body that echoes nothing."""

from __future__ import annotations

import json
import re

import azure.functions as func
import pytest

import authorizer
from authorizer import require_auth
from authorizer._errors import TenantNotAllowed
from authorizer._functions.runtime import TenantPolicyContext
from authorizer._remote.tenants import TenantPolicy
from tests.conftest import ConfigureAuth, http_request
from tests.support.attacks import ATTACKS, Case, Ctx
from tests.support.clock import FakeClock
from tests.support.entra import APP_ID_URI, HOME_TENANT, PARTNER_TENANT, STRANGER_TENANT, USER_OID
from tests.support.issuer import LocalIssuer, auth_environ, status
from tests.support.tokens import make_key

REALM = f'realm="{APP_ID_URI}"'
# Fixed sentences, possibly completed with our own scope names (api://<client id>/...).
FIXED_SENTENCE = re.compile(r"[A-Za-z0-9 ,;.'/:-]+")


@pytest.fixture
def handler(configure_auth: ConfigureAuth) -> func.Function:
    @require_auth(allow_app_only=True)
    def protected(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    return protected  # type: ignore[return-value]


def assert_common_headers(response: func.HttpResponse) -> dict[str, str]:
    body = json.loads(response.get_body())
    assert set(body) == {"error", "error_description"}
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert "WWW-Authenticate" in response.headers["Access-Control-Expose-Headers"]
    return body  # type: ignore[no-any-return]


@pytest.mark.parametrize("case", ATTACKS, ids=lambda case: case.name)
def test_attack_table_through_the_decorator(
    case: Case, handler: func.Function, issuer: LocalIssuer, clock: FakeClock
) -> None:
    ctx = Ctx(base_url=issuer.base_url, now=clock(), key=issuer.signer, attacker=make_key(index=9, kid="evil"))
    token = case.build(ctx)
    response = handler(http_request(token))
    if case.expected is None:
        assert response.status_code == 200
        return
    assert response.status_code == 401
    body = assert_common_headers(response)
    assert body["error"] == "invalid_token"
    assert FIXED_SENTENCE.fullmatch(body["error_description"])
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer {REALM}, error="invalid_token", error_description="{body["error_description"]}"'
    )
    # A description is a fixed sentence: no token part and no claim value comes back.
    for part in [*token.split("."), USER_OID]:
        if len(part) > 8:
            assert part not in response.get_body().decode()


def test_no_token_jwks_url_is_ever_fetched_because_of_a_header(
    handler: func.Function, issuer: LocalIssuer, clock: FakeClock
) -> None:
    ctx = Ctx(base_url=issuer.base_url, now=clock(), key=issuer.signer, attacker=make_key(index=9, kid="evil"))
    for case in ATTACKS:
        handler(http_request(case.build(ctx)))
    assert issuer.count("other") == 0
    assert not [path for path in issuer.paths if "attacker" in path]


@pytest.mark.parametrize(
    "authorization",
    [None, "", "   ", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "Negotiate abc", "bearer"],
)
def test_no_credentials_get_a_bare_challenge(authorization: str | None, handler: func.Function) -> None:
    response = handler(http_request(authorization=authorization))
    assert response.status_code == 401
    body = assert_common_headers(response)
    assert body["error"] == "missing_token"
    assert response.headers["WWW-Authenticate"] == f"Bearer {REALM}"


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_is_matched_case_insensitively(
    scheme: str, handler: func.Function, issuer: LocalIssuer, clock: FakeClock
) -> None:
    assert handler(http_request(authorization=f"{scheme} {issuer.token(clock())}")).status_code == 200


def test_two_tokens_in_one_header_are_an_invalid_token(
    handler: func.Function, issuer: LocalIssuer, clock: FakeClock
) -> None:
    token = issuer.token(clock())
    response = handler(http_request(authorization=f"Bearer {token} {token}"))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_tenant_not_allowed_gets_403_tenant_not_allowed_never_401(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    configure_auth(ENTRA_ALLOWED_TENANTS=PARTNER_TENANT)

    @require_auth()
    def protected(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    assert protected(http_request(issuer.token(clock(), tenant=PARTNER_TENANT))).status_code == 200
    response = protected(http_request(issuer.token(clock(), tenant=STRANGER_TENANT)))
    assert response.status_code == 403
    body = assert_common_headers(response)
    assert body["error"] == "tenant_not_allowed"
    assert STRANGER_TENANT not in response.get_body().decode()
    assert "WWW-Authenticate" not in response.headers


def test_multi_tenant_issuers_come_from_the_organizations_metadata(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    configure_auth(ENTRA_ALLOWED_TENANTS=PARTNER_TENANT)

    @require_auth()
    def protected(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    for version in ("2.0", "1.0"):
        assert protected(http_request(issuer.token(clock(), tenant=PARTNER_TENANT, version=version))).status_code == 200
    # A partner token carrying the home tenant's issuer is refused: iss must match its own tid.
    mixed = issuer.token(
        clock(), tenant=PARTNER_TENANT, iss=f"{issuer.base_url}/11111111-1111-4111-8111-111111111111/v2.0"
    )
    assert protected(http_request(mixed)).status_code == 401
    assert all(path.startswith("/organizations/") for path in issuer.paths)


def test_keys_unavailable_is_503_with_retry_after(
    handler: func.Function, issuer: LocalIssuer, clock: FakeClock
) -> None:
    issuer.fault("metadata-v2", status(500))
    response = handler(http_request(issuer.token(clock())))
    assert response.status_code == 503
    body = assert_common_headers(response)
    assert body["error"] == "temporarily_unavailable"
    assert int(response.headers["Retry-After"]) >= 1
    assert "WWW-Authenticate" not in response.headers


class ExplodingTenants:
    accepts_other_tenants = False

    def check(self, tenant_id: str, *, allow_io: bool) -> None:
        raise RuntimeError("bug in a tenant source")

    def prefetch(self) -> None:
        return


def exploding(context: TenantPolicyContext) -> TenantPolicy:
    return ExplodingTenants()


def test_an_unexpected_failure_is_a_generic_500_never_a_pass(
    issuer: LocalIssuer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    authorizer.configure(environ=auth_environ(issuer), clock=clock, tenant_policy=exploding)
    try:

        @require_auth()
        def protected(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("ok")

        response = protected(http_request(issuer.token(clock())))
    finally:
        authorizer.configure(environ=None, clock=None, tenant_policy=None)
    assert response.status_code == 500
    assert json.loads(response.get_body()) == {
        "error": "server_error",
        "error_description": "The request could not be processed.",
    }
    assert any(record.levelname == "ERROR" and record.exc_info for record in caplog.records)


def test_the_descriptions_are_fixed_sentences() -> None:
    # Every description is a constant of its error class, so none can carry request data.
    for error in [TenantNotAllowed(), *[case.expected() for case in ATTACKS if case.expected is not None]]:
        assert FIXED_SENTENCE.fullmatch(error.description), error.description


@pytest.mark.parametrize("key_issuer", [None, "{tenantid}", HOME_TENANT], ids=["no-key-issuer", "templated", "home"])
@pytest.mark.parametrize("version", ["2.0", "1.0"])
def test_a_foreign_tenant_in_a_single_tenant_app_gets_403_tenant_not_allowed_never_401(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock, version: str, key_issuer: str | None
) -> None:
    # A tenant's own JWKS may name the home tenant in each key's issuer: judged with the same template.
    if key_issuer is not None:
        issuer.key_issuers[issuer.signer.kid] = f"{issuer.base_url}/{key_issuer}/v2.0"

    # No ENTRA_ALLOWED_TENANTS: the home tenant's metadata, whose issuer names the home tenant only.
    @require_auth()
    def protected(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    assert protected(http_request(issuer.token(clock(), version=version))).status_code == 200
    # Authentic, with the issuer of its own tenant: once 401 invalid_token, which loops MSAL.js.
    response = protected(http_request(issuer.token(clock(), tenant=STRANGER_TENANT, version=version)))
    assert response.status_code == 403
    assert assert_common_headers(response)["error"] == "tenant_not_allowed"
    # An issuer that does not belong to the token's own tenant is still an invalid token.
    home_issuer = issuer.claims(clock(), version=version)["iss"]
    mismatched = issuer.token(clock(), tenant=STRANGER_TENANT, version=version, iss=home_issuer)
    assert protected(http_request(mismatched)).status_code == 401


SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def test_every_answer_the_authorizer_writes_carries_the_security_headers_and_a_functions_own_none(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    from tests.test_resource_metadata import RESOURCE, build_app, metadata_function

    configure_auth(ENTRA_ALLOWED_TENANTS=PARTNER_TENANT, PROTECTED_RESOURCE_URL=RESOURCE)

    @require_auth(scopes=["Orders.Read"], rate_limit="1/hour")
    def orders(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("orders", headers={"Cache-Control": "max-age=60"})

    token = issuer.token(clock())
    answers = {
        "401 missing": orders(http_request()),
        "401 invalid": orders(http_request("not.a.token")),
        "403 scope": orders(http_request(issuer.token(clock(), scp="Orders.Write"))),
        "403 tenant": orders(http_request(issuer.token(clock(), tenant=STRANGER_TENANT))),
        "200 function": orders(http_request(token)),
        "429": orders(http_request(token)),
        "200 document": metadata_function(build_app()).get_user_function()(http_request()),
    }
    issuer.fault("jwks", status(500))
    authorizer.reset()
    answers["503"] = orders(http_request(token))
    assert {name: answer.status_code for name, answer in answers.items()} == {
        "401 missing": 401,
        "401 invalid": 401,
        "403 scope": 403,
        "403 tenant": 403,
        "200 function": 200,
        "429": 429,
        "200 document": 200,
        "503": 503,
    }
    for name, answer in answers.items():
        written = {header: answer.headers.get(header) for header in SECURITY_HEADERS}
        if name == "200 function":
            # What a function returns is its own: nothing added, nothing replaced.
            assert written == {"Cache-Control": "max-age=60", "X-Content-Type-Options": None}
        else:
            assert written == SECURITY_HEADERS, name
