"""Process-level state: shared by invocations, dropped by reset(), wired by configure()."""

from __future__ import annotations

import asyncio

import azure.functions as func

import authorizer
from authorizer import require_auth
from authorizer._functions import runtime as runtime_state
from tests.conftest import ConfigureAuth, http_request
from tests.support.clock import FakeClock
from tests.support.issuer import HOLD, LocalIssuer, status


def test_warm_invocations_share_one_cache(configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock) -> None:
    @require_auth()
    def first(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("1")

    @require_auth()
    def second(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("2")

    for _ in range(10):
        assert first(http_request(issuer.token(clock()))).status_code == 200
        assert second(http_request(issuer.token(clock()))).status_code == 200
    assert (issuer.count("metadata-v2"), issuer.count("jwks")) == (1, 1)


def test_reset_drops_every_cache_and_rereads_the_settings(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    @require_auth()
    def handler(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    assert handler(http_request(issuer.token(clock(), aud="extra-audience"))).status_code == 401
    configure_auth(ENTRA_AUDIENCES="extra-audience")
    authorizer.reset()
    assert runtime_state.settings().audiences >= {"extra-audience"}
    assert handler(http_request(issuer.token(clock(), aud="extra-audience"))).status_code == 200
    assert issuer.count("jwks") == 2


def test_concurrent_cold_async_calls_make_one_fetch(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    @require_auth()
    async def handler(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    issuer.fault("metadata-v2", HOLD)

    async def scenario() -> list[int]:
        calls = [asyncio.create_task(handler(req=http_request(issuer.token(clock())))) for _ in range(50)]
        assert await asyncio.to_thread(issuer.wait_for_requests, "metadata-v2", 1, 10)
        issuer.fault("metadata-v2", None)
        issuer.release_stalls()
        return [response.status_code for response in await asyncio.gather(*calls)]

    assert asyncio.run(scenario()) == [200] * 50
    assert (issuer.count("metadata-v2"), issuer.count("jwks")) == (1, 1)


def test_a_wall_clock_step_backwards_does_not_stretch_a_back_off(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    # Durations run on the monotonic clock; the wall clock is for token lifetimes only.
    monotonic = FakeClock()
    authorizer.configure(monotonic=monotonic)

    @require_auth()
    def handler(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    issuer.fault("jwks", status(500))
    token = issuer.token(clock())
    assert handler(http_request(token)).status_code == 503
    issuer.fault("jwks", None)
    # An hour back on the wall clock (an NTP correction, say) and the back-off's 10 s on the monotonic one.
    clock.advance(-3600)
    monotonic.advance(11)
    assert handler(http_request(issuer.token(clock()))).status_code == 200
