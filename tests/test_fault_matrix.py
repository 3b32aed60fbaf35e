"""The key endpoint's worst days, cold and warm: right answers, no hang, no pass, self-healing."""

from __future__ import annotations

import time

import azure.functions as func
import pytest

from authorizer import require_auth
from tests.conftest import ConfigureAuth, http_request, settle
from tests.support.clock import FakeClock
from tests.support.issuer import ENDPOINT_FAULTS, LocalIssuer, break_endpoint, heal
from tests.support.tokens import make_key

TIMEOUT = 0.5
FAULTS = ENDPOINT_FAULTS
ENDPOINTS = ["metadata-v2", "jwks"]


@pytest.fixture
def protected(configure_auth: ConfigureAuth) -> func.Function:
    configure_auth(ENTRA_FETCH_TIMEOUT_SECONDS=str(TIMEOUT))

    @require_auth(scopes=["Orders.Read"])
    def list_orders(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("orders")

    return list_orders  # type: ignore[return-value]


class Callers:
    """The requests every cell of the matrix sends: one that should pass, three that must not."""

    def __init__(self, protected: func.Function, issuer: LocalIssuer, clock: FakeClock) -> None:
        self.protected, self.issuer, self.clock = protected, issuer, clock

    def status(self, token: str) -> int:
        return int(self.protected(http_request(token)).status_code)

    def good(self) -> int:
        status = self.status(self.issuer.token(self.clock()))
        settle()
        return status

    def refusals(self) -> list[int]:
        now = self.clock()
        forged = self.issuer.token(now, key=make_key(index=6, kid=self.issuer.signer.kid))
        expired = self.issuer.token(now - 7200, lifetime=600)
        wrong_scope = self.issuer.token(now, scp="Other.Scope")
        return [self.status(forged), self.status(expired), self.status(wrong_scope)]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("fault_name", FAULTS)
def test_warm_keeps_answering_from_the_last_good_state(
    fault_name: str, endpoint: str, protected: func.Function, issuer: LocalIssuer, clock: FakeClock
) -> None:
    callers = Callers(protected, issuer, clock)
    assert callers.good() == 200
    break_endpoint(issuer, fault_name, endpoint)
    clock.advance(3601)
    observed = [callers.good(), *callers.refusals()]
    clock.advance(31)
    observed += [callers.good(), *callers.refusals()]
    assert observed == [200, 401, 401, 403] * 2
    heal(issuer, fault_name)
    clock.advance(31)
    callers.good()
    new_key = issuer.rotate()
    clock.advance(61)
    assert callers.status(issuer.token(clock(), key=new_key)) == 200


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("fault_name", FAULTS)
def test_cold_answers_503_quickly_never_401_never_200(
    fault_name: str, endpoint: str, protected: func.Function, issuer: LocalIssuer, clock: FakeClock
) -> None:
    callers = Callers(protected, issuer, clock)
    break_endpoint(issuer, fault_name, endpoint)
    started = time.monotonic()
    response = protected(http_request(issuer.token(clock())))
    elapsed = time.monotonic() - started
    # Bounded by the fetch timeout (metadata and keys are two fetches), not by the endpoint.
    assert elapsed < 2 * TIMEOUT + 2
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert callers.refusals() == [503, 503, 503]
    heal(issuer, fault_name)
    clock.advance(31)
    assert callers.good() == 200
    assert callers.refusals() == [401, 401, 403]
