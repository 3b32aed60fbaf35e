"""The key cache against a real issuer on 127.0.0.1: single flight, rotation, failures."""

from __future__ import annotations

import math
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from authorizer._errors import AuthError, KeysUnavailable, UnknownSigningKey
from authorizer._remote.discovery import Authority
from authorizer._remote.fetch import HttpJsonFetcher
from authorizer._remote.refresh import whole_seconds
from authorizer._remote.tenants import StaticTenantPolicy
from authorizer._settings.app_settings import AuthSettings
from authorizer._token import authenticator as authenticator_module
from authorizer._token.authenticator import Authenticator, Trace
from authorizer._token.compact import CompactJws
from authorizer._token.principal import Principal
from authorizer._token.validation import verify_signature
from tests.support.clock import FakeClock
from tests.support.entra import HOME_TENANT
from tests.support.issuer import ENDPOINT_FAULTS, HOLD, Fault, LocalIssuer, auth_environ, break_endpoint, heal, status
from tests.support.tokens import compact, make_key

LIFETIME = 3600
COOLDOWN = 60
RETRY = 10


class Harness:
    """An authenticator wired as in production, but to the local issuer and a fake clock."""

    def __init__(self, issuer: LocalIssuer, clock: FakeClock, **settings: str) -> None:
        environ = auth_environ(issuer, **{"ENTRA_FETCH_TIMEOUT_SECONDS": "0.5", **settings})
        self.settings = AuthSettings.from_environ(environ)
        self.issuer = issuer
        self.clock = clock
        self.authority = Authority(
            self.settings,
            HttpJsonFetcher(self.settings.fetch_timeout_seconds),
            clock,
            multi_tenant=False,
            rng=random.Random(7),
        )
        self.authenticator = Authenticator(self.settings, self.authority, StaticTenantPolicy(HOME_TENANT), clock)

    def validate(self, token: str) -> Principal:
        return self.authenticator.authenticate(f"Bearer {token}", allow_io=True, trace=Trace())

    def token(self, **options: Any) -> str:
        return self.issuer.token(self.clock(), **options)

    def settle(self) -> None:
        """Wait for any background refresh to finish (a condition wait, not a sleep)."""
        assert self.authority.key_set.wait_idle(10)
        for metadata in self.authority.metadata.values():
            assert metadata.wait_idle(10)


@pytest.fixture
def harness(issuer: LocalIssuer, clock: FakeClock) -> Harness:
    return Harness(issuer, clock)


def run_concurrently(count: int, task: Callable[[int], object], issuer: LocalIssuer, held_kind: str) -> list[object]:
    """Start ``count`` threads together while the issuer holds the first ``held_kind`` fetch."""
    issuer.fault(held_kind, HOLD)
    results: list[object] = [None] * count
    start = threading.Barrier(count + 1)

    def worker(index: int) -> None:
        start.wait()
        try:
            results[index] = task(index)
        except Exception as error:  # noqa: BLE001 - collected and asserted on below
            results[index] = error

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    start.wait()
    assert issuer.wait_for_requests(held_kind, 1)
    issuer.fault(held_kind, None)
    issuer.release_stalls()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_50_concurrent_cold_validations_make_one_fetch_of_each_document(harness: Harness, issuer: LocalIssuer) -> None:
    tokens = [harness.token(version="2.0" if index % 2 else "1.0") for index in range(50)]
    results = run_concurrently(50, lambda index: harness.validate(tokens[index]), issuer, "metadata-v2")
    assert all(isinstance(result, Principal) for result in results), results
    assert issuer.count("metadata-v2") == 1
    assert issuer.count("metadata-v1") == 1
    assert issuer.count("jwks") == 1


def test_only_the_metadata_documents_in_use_are_fetched(harness: Harness, issuer: LocalIssuer) -> None:
    for _ in range(5):
        harness.validate(harness.token())
    assert (issuer.count("metadata-v2"), issuer.count("metadata-v1"), issuer.count("jwks")) == (1, 0, 1)


def test_1000_unknown_kids_within_one_cooldown_add_at_most_one_jwks_fetch(
    harness: Harness, issuer: LocalIssuer
) -> None:
    harness.validate(harness.token())
    assert issuer.count("jwks") == 1
    forger = make_key(index=5)
    refusals = 0
    for _ in range(1000):
        token = compact({"alg": "RS256", "kid": uuid.uuid4().hex}, harness.issuer.claims(harness.clock()), forger)
        with pytest.raises(UnknownSigningKey):
            harness.validate(token)
        refusals += 1
        harness.clock.advance(0.05)
    assert refusals == 1000
    assert issuer.count("jwks") == 2


def test_the_first_token_signed_by_a_rotated_key_is_accepted(harness: Harness, issuer: LocalIssuer) -> None:
    harness.validate(harness.token())
    harness.clock.advance(1)
    new_key = issuer.rotate()
    principal = harness.validate(harness.token())
    assert principal.tid == HOME_TENANT
    assert issuer.count("jwks") == 2
    assert new_key.kid in (harness.authority.key_set.value or {})


def test_concurrent_first_tokens_after_a_rotation_share_one_refresh(harness: Harness, issuer: LocalIssuer) -> None:
    harness.validate(harness.token())
    issuer.rotate()
    tokens = [harness.token() for _ in range(20)]
    results = run_concurrently(20, lambda index: harness.validate(tokens[index]), issuer, "jwks")
    # The request that starts the refresh waits for it; the others are told to retry rather than
    # held (a forged kid must never hold a thread), or find the new key once it has arrived.
    assert any(isinstance(result, Principal) for result in results), results
    assert all(
        isinstance(result, Principal) or (isinstance(result, KeysUnavailable) and result.retry_after >= 1)
        for result in results
    ), results
    assert issuer.count("jwks") == 2
    assert all(isinstance(harness.validate(token), Principal) for token in tokens)
    assert issuer.count("jwks") == 2


def test_an_unknown_kid_inside_the_cooldown_waits_for_the_next_window(harness: Harness, issuer: LocalIssuer) -> None:
    harness.validate(harness.token())
    with pytest.raises(UnknownSigningKey):
        harness.validate(
            compact({"alg": "RS256", "kid": "invented"}, issuer.claims(harness.clock()), make_key(index=5))
        )
    issuer.rotate()
    harness.clock.advance(COOLDOWN - 1)
    with pytest.raises(UnknownSigningKey):
        harness.validate(harness.token())
    harness.clock.advance(1)
    assert harness.validate(harness.token()).tid == HOME_TENANT
    assert issuer.count("jwks") == 3


def test_keys_refresh_on_a_jittered_lifetime_while_serving_the_cached_set(
    harness: Harness, issuer: LocalIssuer
) -> None:
    harness.validate(harness.token())
    harness.clock.advance(LIFETIME * 0.9 - 1)
    harness.validate(harness.token())
    harness.settle()
    assert issuer.count("jwks") == 1
    harness.clock.advance(LIFETIME * 0.1 + 1)
    harness.validate(harness.token())
    harness.settle()
    assert issuer.count("jwks") == 2
    assert issuer.count("metadata-v2") == 2


def test_jitter_spreads_the_refresh_of_instances_started_together(issuer: LocalIssuer, clock: FakeClock) -> None:
    deadlines = set()
    for seed in range(10):
        harness = Harness(issuer, clock)
        harness.authority.key_set._rng = random.Random(seed)
        harness.validate(harness.token())
        # The first moment at which this instance considers its keys stale.
        probe = FakeClock(clock())
        harness.authority.key_set._clock = probe
        low, high = 0.0, float(LIFETIME)
        while high - low > 1:
            middle = (low + high) / 2
            probe.set(clock() + middle)
            if harness.authority.key_set._fresh_until > probe():
                low = middle
            else:
                high = middle
        deadlines.add(round(high))
    assert len(deadlines) >= 8
    assert all(LIFETIME * 0.9 <= deadline <= LIFETIME + 1 for deadline in deadlines)


FAULTS = ENDPOINT_FAULTS


@pytest.mark.parametrize("kind", ["jwks", "metadata-v2"])
@pytest.mark.parametrize("fault_name", FAULTS)
def test_a_failing_refresh_keeps_the_last_good_keys_and_recovers(
    harness: Harness, issuer: LocalIssuer, fault_name: str, kind: str
) -> None:
    harness.validate(harness.token())
    break_endpoint(issuer, fault_name, kind)
    harness.clock.advance(LIFETIME + 1)
    assert harness.validate(harness.token()).tid == HOME_TENANT
    harness.settle()
    assert harness.authority.key_set.last_attempt_failed or harness.authority.metadata["2.0"].last_attempt_failed
    harness.clock.advance(RETRY + 1)
    assert harness.validate(harness.token()).tid == HOME_TENANT
    heal(issuer, fault_name)
    harness.clock.advance(max(RETRY, 120) + 1)
    harness.validate(harness.token())
    harness.settle()
    issuer.rotate()
    harness.clock.advance(COOLDOWN + 1)
    assert harness.validate(harness.token()).tid == HOME_TENANT
    assert not harness.authority.key_set.last_attempt_failed


@pytest.mark.parametrize("fault_name", FAULTS)
def test_cold_and_unreachable_keys_are_temporarily_unavailable_never_invalid(
    harness: Harness, issuer: LocalIssuer, fault_name: str
) -> None:
    token = harness.token()
    break_endpoint(issuer, fault_name, "jwks")
    with pytest.raises(KeysUnavailable) as caught:
        harness.validate(token)
    assert caught.value.retry_after >= 1
    attempts = issuer.count("jwks")
    # Inside the back-off no request reaches the endpoint: an outage is not hammered.
    with pytest.raises(KeysUnavailable):
        harness.validate(token)
    assert issuer.count("jwks") == attempts
    heal(issuer, fault_name)
    harness.clock.advance(121)
    assert harness.validate(token).tid == HOME_TENANT


def test_an_unknown_kid_while_the_endpoint_fails_is_unavailable_not_invalid(
    harness: Harness, issuer: LocalIssuer
) -> None:
    harness.validate(harness.token())
    issuer.fault("jwks", status(503))
    new_key = issuer.rotate()
    harness.clock.advance(COOLDOWN)
    with pytest.raises(KeysUnavailable):
        harness.validate(harness.token(key=new_key))


def test_a_valid_but_oversized_jwks_is_refused(harness: Harness, issuer: LocalIssuer) -> None:
    # Size alone decides: the document is otherwise a good key set.
    issuer.fault("jwks", Fault(pad_bytes=300 * 1024))
    with pytest.raises(KeysUnavailable):
        harness.validate(harness.token())
    issuer.fault("jwks", Fault(pad_bytes=200 * 1024))
    harness.clock.advance(RETRY + 1)
    assert harness.validate(harness.token()).tid == HOME_TENANT


def test_a_retry_after_longer_than_the_retry_interval_is_respected(harness: Harness, issuer: LocalIssuer) -> None:
    token = harness.token()
    issuer.fault("jwks", status(429, **{"Retry-After": "120"}))
    with pytest.raises(KeysUnavailable) as caught:
        harness.validate(token)
    assert caught.value.retry_after >= 119
    issuer.fault("jwks", None)
    harness.clock.advance(RETRY + 1)
    with pytest.raises(KeysUnavailable):
        harness.validate(token)
    assert issuer.count("jwks") == 1
    harness.clock.advance(120)
    assert harness.validate(token).tid == HOME_TENANT


def test_a_refusal_never_depends_on_which_error_class_the_cache_saw(harness: Harness, issuer: LocalIssuer) -> None:
    # Whatever happens to the key endpoint, a forged token is never accepted.
    forged = harness.token(key=make_key(index=6, kid="key-2026-a"))
    for fault_name in FAULTS:
        break_endpoint(issuer, fault_name, "jwks")
        with pytest.raises(AuthError):
            harness.validate(forged)
        heal(issuer, fault_name)
        harness.clock.advance(200)


# --- server-given delays are bounded by us ----------------------------------------------------
A_YEAR = str(365 * 86400)
KEY_DELAY_CEILING = 2 * COOLDOWN


def test_a_retry_after_of_a_year_holds_key_fetches_for_twice_the_cooldown_at_most(
    harness: Harness, issuer: LocalIssuer
) -> None:
    harness.validate(harness.token())
    new_key = issuer.rotate()
    issuer.fault("jwks", status(429, **{"Retry-After": A_YEAR}))
    harness.clock.advance(COOLDOWN)
    with pytest.raises(KeysUnavailable) as caught:
        harness.validate(harness.token(key=new_key))
    assert caught.value.retry_after <= KEY_DELAY_CEILING
    issuer.fault("jwks", None)
    harness.clock.advance(KEY_DELAY_CEILING + 1)
    # Once accepted only a year later: the rotated key was refused with 503 all that time.
    assert harness.validate(harness.token(key=new_key)).tid == HOME_TENANT


@pytest.mark.parametrize("value", ["9" * 400, "²", "-5", "1e9", "Tue, 31 Dec 9999 23:59:59 GMT"])
def test_an_unreadable_or_enormous_retry_after_is_bounded_never_a_crash(
    harness: Harness, issuer: LocalIssuer, value: str
) -> None:
    token = harness.token()
    issuer.fault("jwks", status(429, **{"Retry-After": value}))
    for _ in range(2):
        # 400 digits once parsed to infinity and made every later request a 500 until restart.
        with pytest.raises(KeysUnavailable) as caught:
            harness.validate(token)
        assert 1 <= caught.value.retry_after <= KEY_DELAY_CEILING
    issuer.fault("jwks", None)
    harness.clock.advance(KEY_DELAY_CEILING + 1)
    assert harness.validate(token).tid == HOME_TENANT


# --- an unknown kid during a refresh in flight ---------------------------------------------------
def in_thread(task: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    result: list[object] = []

    def run() -> None:
        try:
            result.append(task())
        except Exception as error:  # noqa: BLE001 - collected and asserted on below
            result.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def join_all(threads: list[threading.Thread], within: float) -> None:
    """Join every thread within one shared time budget."""
    deadline = time.monotonic() + within
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))


def test_an_unknown_kid_during_a_slow_refresh_is_503_at_once_not_a_wait_or_a_500(
    issuer: LocalIssuer, clock: FakeClock
) -> None:
    # A fetch that takes its time, but inside the deadline: held until the test releases it.
    harness = Harness(issuer, clock, ENTRA_FETCH_TIMEOUT_SECONDS="20")
    harness.validate(harness.token())
    new_key = issuer.rotate()
    harness.clock.advance(COOLDOWN)
    issuer.fault("jwks", HOLD)
    first, first_result = in_thread(lambda: harness.validate(harness.token(key=new_key)))
    try:
        assert issuer.wait_for_requests("jwks", 2)
        # The second token of the new key arrives mid-refresh: it once waited 30 s, then got a 500.
        second, second_result = in_thread(lambda: harness.validate(harness.token(key=new_key)))
        second.join(timeout=5)
        assert not second.is_alive(), "a request waited on a refresh it did not start"
        assert isinstance(second_result[0], KeysUnavailable)
        assert second_result[0].retry_after >= 1
    finally:
        issuer.fault("jwks", None)
        issuer.release_stalls()
        first.join(timeout=10)
    assert isinstance(first_result[0], Principal)


def test_an_unknown_kid_during_a_background_refresh_it_did_not_start_is_503_at_once(
    issuer: LocalIssuer, clock: FakeClock
) -> None:
    # A 20 s fetch deadline: a caller that waited on the refresh would wait up to 41 s.
    harness = Harness(issuer, clock, ENTRA_FETCH_TIMEOUT_SECONDS="20")
    harness.validate(harness.token())
    new_key = issuer.rotate()
    # The keys are stale and the cooldown is long past: the next known caller refreshes them behind itself.
    harness.clock.advance(LIFETIME + COOLDOWN)
    issuer.fault("jwks", HOLD)
    try:
        assert isinstance(harness.validate(harness.token(key=issuer.keys[0])), Principal)
        assert issuer.wait_for_requests("jwks", 2)
        # The new key's first token arrives while that background fetch is held: it once waited it out.
        waiter, waiter_result = in_thread(lambda: harness.validate(harness.token(key=new_key)))
        waiter.join(timeout=5)
        assert not waiter.is_alive(), "a request waited on a background refresh it did not start"
        assert isinstance(waiter_result[0], KeysUnavailable) and waiter_result[0].retry_after == 1
    finally:
        issuer.fault("jwks", None)
        issuer.release_stalls()
        harness.settle()
    # Once the refresh lands, the retry the 503 asked for succeeds.
    assert isinstance(harness.validate(harness.token(key=new_key)), Principal)


def test_forged_kids_never_wait_on_a_refresh_and_known_callers_never_wait_behind_one(
    issuer: LocalIssuer, clock: FakeClock
) -> None:
    harness = Harness(issuer, clock, ENTRA_FETCH_TIMEOUT_SECONDS="20")
    known = harness.token()
    harness.validate(known)
    harness.clock.advance(COOLDOWN)
    forger = make_key(index=5)

    def forged() -> object:
        return harness.validate(
            compact({"alg": "RS256", "kid": uuid.uuid4().hex}, issuer.claims(harness.clock()), forger)
        )

    issuer.fault("jwks", HOLD)
    starter, starter_result = in_thread(forged)
    try:
        assert issuer.wait_for_requests("jwks", 2)
        others = [in_thread(forged) for _ in range(5)]
        join_all([thread for thread, _ in others], within=5)
        assert not any(thread.is_alive() for thread, _ in others), "a forged kid waited on a refresh"
        assert all(isinstance(result[0], KeysUnavailable) for _, result in others)
        # A caller whose key is known, cached or not, is answered while the refresh is held.
        fresh, fresh_result = in_thread(lambda: harness.validate(harness.token()))
        repeat, repeat_result = in_thread(lambda: harness.validate(known))
        join_all([fresh, repeat], within=5)
        assert isinstance(fresh_result[0], Principal) and isinstance(repeat_result[0], Principal)
    finally:
        issuer.fault("jwks", None)
        issuer.release_stalls()
        starter.join(timeout=10)
    assert isinstance(starter_result[0], UnknownSigningKey)
    assert issuer.count("jwks") == 2


# --- a routine refresh keeps the cache ---------------------------------------------------------
def test_a_routine_refresh_with_unchanged_keys_keeps_every_cached_caller(
    harness: Harness, issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = [harness.token() for _ in range(50)]
    for token in tokens:
        harness.validate(token)
    harness.clock.advance(LIFETIME + 1)
    harness.validate(tokens[0])
    harness.settle()
    assert issuer.count("jwks") == 2
    verifies: list[str] = []

    def counting_verify(jws: CompactJws, key: RSAPublicKey) -> None:
        verifies.append(jws.header["kid"])
        verify_signature(jws, key)

    monkeypatch.setattr(authenticator_module, "verify_signature", counting_verify)
    for token in tokens:
        harness.validate(token)
    # Each refresh once emptied the cache: 50 cached callers cost 50 fresh RSA verifies.
    assert len(verifies) == 0


def test_a_refresh_that_succeeds_while_a_retry_after_is_computed_never_crashes_it() -> None:
    # A successful fetch sets the next attempt to -inf; ceil(-inf) once turned an unknown kid into a 500.
    assert whole_seconds(-math.inf) == 1
    assert whole_seconds(math.nan) == 1
    assert whole_seconds(math.inf) == 10**9
    assert whole_seconds(1.2) == 2
