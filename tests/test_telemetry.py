"""Telemetry with the real OpenTelemetry SDK: every instrument, attribute and span, read back in memory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from authorizer import require_auth
from tests.conftest import ConfigureAuth, ConfigureVault, http_request, settle
from tests.support.clock import FakeClock
from tests.support.entra import PARTNER_TENANT, SPA_CLIENT_ID, STRANGER_TENANT, USER_OID
from tests.support.issuer import LocalIssuer, status
from tests.support.telemetry import Telemetry, series

REPO = Path(__file__).resolve().parents[1]


AUTHN = "entra_authorizer.authentication.duration"
ATTEMPTS = "entra_authorizer.authorization.attempts"
LOOKUPS = "entra_authorizer.token_cache.lookups"
REFRESHES = "entra_authorizer.key_refreshes"


def protected(scopes: tuple[str, ...] = ("Orders.Read",), **options: Any) -> Any:
    @require_auth(scopes=list(scopes), **options)
    def list_orders(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("orders")

    return list_orders


def test_an_admitted_call_and_its_repeat(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock, telemetry: Telemetry
) -> None:
    orders = protected()
    token = issuer.token(clock())
    assert [orders(http_request(token)).status_code for _ in range(2)] == [200, 200]
    recorded = telemetry.since()
    assert recorded[series(AUTHN, **{"entra_authorizer.result": "success"})] == 2
    assert (
        recorded[series(ATTEMPTS, **{"entra_authorizer.function": "list_orders", "entra_authorizer.result": "success"})]
        == 2
    )
    assert recorded[series(LOOKUPS, **{"entra_authorizer.result": "miss"})] == 1
    assert recorded[series(LOOKUPS, **{"entra_authorizer.result": "hit"})] == 1
    # The first call fetched the metadata and the keys: each a refresh, each with its own span.
    assert (
        recorded[series(REFRESHES, **{"entra_authorizer.source": "metadata", "entra_authorizer.result": "success"})]
        == 1
    )
    assert recorded[series(REFRESHES, **{"entra_authorizer.source": "jwks", "entra_authorizer.result": "success"})] == 1
    spans = telemetry.spans()
    decisions = [span for span in spans if span.name == "entra_authorizer.authorize"]
    assert len(decisions) == 2
    assert all(
        dict(span.attributes or {})
        == {"entra_authorizer.function": "list_orders", "entra_authorizer.result": "success"}
        for span in decisions
    )
    fetches = sorted(
        str((span.attributes or {})["entra_authorizer.source"])
        for span in spans
        if span.name == "entra_authorizer.fetch"
    )
    assert fetches == ["jwks", "metadata"]


@pytest.mark.parametrize(
    ("case", "authentication", "attempt"),
    [
        ("no token", {"entra_authorizer.result": "none"}, None),
        ("expired", {"entra_authorizer.result": "failure", "error.type": "invalid_token"}, None),
        ("wrong scope", {"entra_authorizer.result": "success"}, "insufficient_scope"),
        ("no role", {"entra_authorizer.result": "success"}, "role_required"),
        ("stranger", {"entra_authorizer.result": "success"}, "tenant_not_allowed"),
        ("keys down", {"entra_authorizer.result": "failure", "error.type": "temporarily_unavailable"}, None),
    ],
)
def test_each_kind_of_refusal_is_counted_with_its_code(
    case: str,
    authentication: dict[str, str],
    attempt: str | None,
    configure_auth: ConfigureAuth,
    issuer: LocalIssuer,
    clock: FakeClock,
    telemetry: Telemetry,
) -> None:
    orders = protected(roles=["Orders.Writer"]) if case == "no role" else protected()
    now = clock()
    tokens = {
        "no token": None,
        "expired": issuer.token(now - 7200, lifetime=60),
        "wrong scope": issuer.token(now, scp="Orders.Write"),
        "no role": issuer.token(now),
        "stranger": issuer.token(now, tenant=STRANGER_TENANT),
        "keys down": issuer.token(now),
    }
    if case == "keys down":
        issuer.fault("metadata-v2", status(500))
    answer = orders(http_request(tokens[case]))
    assert answer.status_code in (401, 403, 503)
    recorded = telemetry.since()
    assert recorded[series(AUTHN, **authentication)] == 1
    attempts = {key: value for key, value in recorded.items() if key[0] == ATTEMPTS}
    if attempt is None:
        assert attempts == {}
    else:
        expected = {
            "entra_authorizer.function": "list_orders",
            "entra_authorizer.result": "failure",
            "error.type": attempt,
        }
        assert attempts == {series(ATTEMPTS, **expected): 1}
    [decision] = [span for span in telemetry.spans() if span.name == "entra_authorizer.authorize"]
    assert (decision.attributes or {})["entra_authorizer.result"] == ("none" if case == "no token" else "failure")


def test_a_failing_key_refresh_is_counted_and_the_last_good_keys_serve(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock, telemetry: Telemetry
) -> None:
    orders = protected()
    assert orders(http_request(issuer.token(clock()))).status_code == 200
    telemetry.since()
    issuer.fault("jwks", status(500))
    clock.advance(4000)
    assert orders(http_request(issuer.token(clock()))).status_code == 200
    settle()
    recorded = telemetry.since()
    assert recorded[series(REFRESHES, **{"entra_authorizer.source": "jwks", "entra_authorizer.result": "failure"})] == 1
    failed = [
        span
        for span in telemetry.spans()
        if span.name == "entra_authorizer.fetch" and (span.attributes or {}).get("entra_authorizer.result") == "failure"
    ]
    assert failed and (failed[0].attributes or {})["error.type"] == "fetch_failed"


def test_the_vaults_refreshes_are_counted(
    configure_vault: ConfigureVault, issuer: LocalIssuer, clock: FakeClock, telemetry: Telemetry
) -> None:
    assert protected()(http_request(issuer.token(clock(), tenant=PARTNER_TENANT))).status_code == 200
    recorded = telemetry.since()
    assert (
        recorded[series(REFRESHES, **{"entra_authorizer.source": "key_vault", "entra_authorizer.result": "success"})]
        == 1
    )


def test_a_rate_limit_refusal_is_counted_by_function(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock, telemetry: Telemetry
) -> None:
    orders = protected(rate_limit="1/hour")
    token = issuer.token(clock())
    assert [orders(http_request(token)).status_code for _ in range(2)] == [200, 429]
    recorded = telemetry.since()
    assert recorded[series("entra_authorizer.rate_limit.refusals", **{"entra_authorizer.function": "list_orders"})] == 1


def test_tenant_and_client_ids_only_when_a_setting_opts_in_and_user_ids_only_on_spans(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock, telemetry: Telemetry
) -> None:
    token = issuer.token(clock())
    protected()(http_request(token))
    for key in telemetry.since():
        assert not {"entra_authorizer.tenant_id", "entra_authorizer.client_app_id"} & {name for name, _ in key[1]}
    assert all("enduser.id" not in (span.attributes or {}) for span in telemetry.spans())
    configure_auth(ENTRA_TELEMETRY_TENANT_IDS="true", ENTRA_TELEMETRY_USER_IDS="true")
    protected()(http_request(token))
    attempts = [key for key in telemetry.since() if key[0] == ATTEMPTS]
    assert attempts == [
        series(
            ATTEMPTS,
            **{
                "entra_authorizer.function": "list_orders",
                "entra_authorizer.result": "success",
                "entra_authorizer.tenant_id": "11111111-1111-4111-8111-111111111111",
                "entra_authorizer.client_app_id": SPA_CLIENT_ID,
            },
        )
    ]
    [decision] = [span for span in telemetry.spans() if span.name == "entra_authorizer.authorize"]
    assert (decision.attributes or {})["enduser.id"] == USER_OID


def test_no_token_or_claim_value_reaches_an_attribute(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock, telemetry: Telemetry
) -> None:
    configure_auth(ENTRA_TELEMETRY_TENANT_IDS="true", ENTRA_TELEMETRY_USER_IDS="true")
    token = issuer.token(clock(), name="Ada Lovelace", preferred_username="ada@contoso.example")
    orders = protected()
    orders(http_request(token))
    orders(http_request(token + "x"))
    values = {value for key in telemetry.since() for _, value in key[1]}
    values |= {str(value) for span in telemetry.spans() for value in (span.attributes or {}).values()}
    pieces = [piece for piece in token.split(".") if len(piece) > 16]
    assert not any(piece in value for piece in pieces for value in values)
    assert "Ada Lovelace" not in values and "ada@contoso.example" not in values


def test_without_opentelemetry_installed_nothing_changes() -> None:
    # An app without the telemetry extra: the import fails and the authorizer records nothing, silently.
    program = """
import sys
sys.modules["opentelemetry"] = None
import authorizer._telemetry.signals as signals
assert signals.listening() is None and signals.traced() is None
print("silent")
"""
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.strip() == "silent", done.stderr
