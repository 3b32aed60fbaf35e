"""Load: 8 threads, thousands of mixed requests, a key rotation midway; every answer as expected."""

from __future__ import annotations

import itertools
import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import azure.functions as func
import pytest

import authorizer._functions.runtime
from authorizer import require_auth
from authorizer._remote.tenants import RefreshingTenantPolicy
from tests.conftest import ConfigureAuth, ConfigureVault, http_request
from tests.support.clock import FakeClock
from tests.support.entra import PARTNER_TENANT, STRANGER_TENANT
from tests.support.issuer import LocalIssuer
from tests.support.keyvault import LocalKeyVault
from tests.support.log_hygiene import assert_no_token_material, watched_logs
from tests.support.tokens import SigningKey, compact, make_key

THREADS = 8
REQUESTS_PER_THREAD = 500
DISTINCT_PER_KIND = 40


@dataclass(frozen=True)
class Call:
    kind: str
    token: str
    expected: int
    # Signed under a kid the key set may not know yet: while the one refresh that kid may force is
    # under way, the answer is 503 with Retry-After rather than a wait (nor a guess).
    unknown_kid: bool = False

    def answered_right(self, response: func.HttpResponse) -> bool:
        if response.status_code == self.expected:
            return True
        return self.unknown_kid and response.status_code == 503 and int(response.headers["Retry-After"]) >= 1


def mint(issuer: LocalIssuer, clock: FakeClock, signer: SigningKey, *, new_key: bool) -> dict[str, list[Call]]:
    now = clock()
    forger = make_key(index=8)
    kinds: dict[str, tuple[int, list[str]]] = {
        "valid": (200, [issuer.token(now, key=signer) for _ in range(DISTINCT_PER_KIND)]),
        "valid-partner": (
            200,
            [issuer.token(now, key=signer, tenant=PARTNER_TENANT) for _ in range(DISTINCT_PER_KIND)],
        ),
        "valid-app": (
            200,
            [issuer.token(now, key=signer, app_only=True, roles=["Orders.Read.All"]) for _ in range(DISTINCT_PER_KIND)],
        ),
        "expired": (401, [issuer.token(now - 7200, key=signer, lifetime=600) for _ in range(DISTINCT_PER_KIND)]),
        "wrong-tenant": (
            403,
            [issuer.token(now, key=signer, tenant=STRANGER_TENANT) for _ in range(DISTINCT_PER_KIND)],
        ),
        "wrong-scope": (403, [issuer.token(now, key=signer, scp="Profile.Read") for _ in range(DISTINCT_PER_KIND)]),
        "forged-known-kid": (
            401,
            [issuer.token(now, key=make_key(index=8, kid=signer.kid)) for _ in range(DISTINCT_PER_KIND)],
        ),
        "forged-unknown-kid": (
            401,
            [
                compact({"alg": "RS256", "kid": uuid.uuid4().hex}, issuer.claims(now), forger)
                for _ in range(DISTINCT_PER_KIND)
            ],
        ),
    }
    # Named apart from the same kind under the first key, so that each is seen answered on its own.
    suffix = " (new key)" if new_key else ""
    return {
        kind: [Call(kind + suffix, token, status, new_key or kind == "forged-unknown-kid") for token in tokens]
        for kind, (status, tokens) in kinds.items()
    }


@dataclass
class Run:
    """What a run of ``drive`` saw."""

    # Answers that were neither the expected status nor a transitional 503: (kind, expected, observed).
    mismatches: list[tuple[str, int, int]] = field(default_factory=list)
    answered: int = 0
    # Per phase, the kinds answered exactly as expected at least once.
    exact: list[set[str]] = field(default_factory=lambda: [set(), set()])
    records: list[logging.LogRecord] = field(default_factory=list)


def drive(handler: Callable[..., func.HttpResponse], phases: list[list[Call]], change: Callable[[], None]) -> Run:
    """8 threads through two phases of calls, ``change`` run once all finished the first."""
    halfway = threading.Barrier(THREADS, action=change)
    run = Run()
    answered = [0] * THREADS
    lock = threading.Lock()

    def worker(index: int) -> None:
        for number, calls in enumerate(phases):
            for offset in range(REQUESTS_PER_THREAD // 2):
                call = calls[(index * 97 + offset) % len(calls)]
                response = handler(http_request(call.token))
                answered[index] += 1
                with lock:
                    if response.status_code == call.expected:
                        run.exact[number].add(call.kind)
                    elif not call.answered_right(response):
                        run.mismatches.append((call.kind, call.expected, response.status_code))
            if number == 0:
                halfway.wait()

    with watched_logs() as logs:
        threads = [threading.Thread(target=worker, args=(index,)) for index in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)
    run.answered, run.records = sum(answered), logs.records
    return run


def assert_settled(run: Run, second_phase: list[Call]) -> None:
    # A 503 for a kid being fetched is transitional: every kind signed with the new key, or judged
    # by the new tenant list, must also have had its real answer during the run.
    assert run.mismatches == []
    assert {call.kind for call in second_phase if call.unknown_kid} <= run.exact[1], run.exact[1]


def test_eight_threads_mixed_traffic_with_a_key_rotation_midway(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    configure_auth(ENTRA_ALLOWED_TENANTS=PARTNER_TENANT)

    @require_auth(scopes=["Orders.Read"], app_roles=["Orders.Read.All"])
    def list_orders(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("orders")

    before = mint(issuer, clock, issuer.signer, new_key=False)
    new_key = make_key(index=4, kid="key-rotated-load")
    after = mint(issuer, clock, new_key, new_key=True)
    phases = [
        list(itertools.chain.from_iterable(zip(*before.values(), strict=True))),
        list(itertools.chain.from_iterable(zip(*after.values(), *before.values(), strict=True))),
    ]

    def rotate() -> None:
        # A minute later, as in life: invented kids of the first half used up that cooldown window.
        clock.advance(61)
        issuer.rotate(new_key)

    # The rotation happens when every thread has finished the first half.
    run = drive(list_orders, phases, rotate)
    assert run.answered == THREADS * REQUESTS_PER_THREAD
    assert_settled(run, phases[1])
    # One organizations metadata document; keys: the cold fetch, then at most one forced refresh
    # per cooldown window (invented kids in the first, the new key in the second).
    assert issuer.count("metadata-v2") == 1
    assert 2 <= issuer.count("jwks") <= 3
    tokens = [call.token for calls in (*before.values(), *after.values()) for call in calls]
    assert_no_token_material(run.records, tokens)


@pytest.mark.parametrize("threads", [THREADS])
def test_concurrent_callers_see_one_consistent_key_set(
    threads: int, configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    @require_auth()
    def me(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("me")

    tokens = [issuer.token(clock()) for _ in range(threads * 5)]
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def worker(index: int) -> None:
        start.wait()
        for token in tokens[index::threads]:
            status = me(http_request(token)).status_code
            with lock:
                statuses.append(status)

    workers = [threading.Thread(target=worker, args=(index,)) for index in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=60)
    assert statuses == [200] * len(tokens)
    assert (issuer.count("metadata-v2"), issuer.count("jwks")) == (1, 1)


def test_eight_threads_with_a_key_rotation_and_a_key_vault_change_midway(
    configure_vault: ConfigureVault, vault: LocalKeyVault, issuer: LocalIssuer, clock: FakeClock
) -> None:
    @require_auth(scopes=["Orders.Read"], app_roles=["Orders.Read.All"])
    def list_orders(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("orders")

    now = clock()
    newcomer = "44444444-4444-4444-8444-444444444444"
    new_key = make_key(index=4, kid="key-rotated-vault")
    # Before: the partner is on the vault's list, the newcomer not. After: the other way round.
    phase_calls = [
        [
            *[Call("partner", issuer.token(now, tenant=PARTNER_TENANT), 200) for _ in range(20)],
            *[Call("newcomer", issuer.token(now, tenant=newcomer), 403) for _ in range(20)],
            *[Call("home", issuer.token(now), 200) for _ in range(20)],
            *[Call("forged", issuer.token(now, key=make_key(index=8, kid=issuer.signer.kid)), 401) for _ in range(20)],
        ],
        [
            *[Call("partner", issuer.token(now, key=new_key, tenant=PARTNER_TENANT), 403, True) for _ in range(20)],
            *[Call("newcomer", issuer.token(now, key=new_key, tenant=newcomer), 200, True) for _ in range(20)],
            *[Call("home-old-key", issuer.token(now), 200) for _ in range(20)],
            *[Call("expired", issuer.token(now - 7200, key=new_key, lifetime=600), 401, True) for _ in range(20)],
        ],
    ]

    def change() -> None:
        vault.set_secret("allowed-tenants", json.dumps([newcomer]))
        clock.advance(301)
        issuer.rotate(new_key)
        # As the refresh behind the first request of the new period would; done here so that
        # every answer of the second half is determined.
        tenants = authorizer._functions.runtime.current().authenticator.tenants
        assert isinstance(tenants, RefreshingTenantPolicy)
        tenants.fetched.refresh()

    run = drive(list_orders, phase_calls, change)
    assert run.answered == THREADS * REQUESTS_PER_THREAD
    assert_settled(run, phase_calls[1])
    assert vault.read_count("allowed-tenants") == 2
    assert issuer.count("metadata-v2") == 1
    assert 2 <= issuer.count("jwks") <= 3
    assert_no_token_material(run.records, [call.token for calls in phase_calls for call in calls])
