"""The validated-token cache: what a repeat presentation may skip, and what it never may."""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Callable
from typing import Any

import azure.functions as func
import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

import authorizer
import authorizer._functions.runtime
from authorizer import Principal, require_auth
from authorizer._errors import AuthError, TenantNotAllowed
from authorizer._functions.runtime import TenantPolicyContext
from authorizer._remote.discovery import Authority
from authorizer._remote.fetch import HttpJsonFetcher
from authorizer._remote.jwks import VerificationKey
from authorizer._remote.refresh import RefreshingValue
from authorizer._settings.app_settings import AuthSettings
from authorizer._token import authenticator as authenticator_module
from authorizer._token.authenticator import Authenticator, Trace
from authorizer._token.cache import TokenCache, ValidatedToken
from authorizer._token.compact import CompactJws
from authorizer._token.validation import verify_signature
from tests.conftest import ConfigureAuth, http_request, settle
from tests.support.clock import FakeClock
from tests.support.entra import HOME_TENANT, PARTNER_TENANT, STRANGER_TENANT
from tests.support.issuer import LocalIssuer, auth_environ
from tests.support.tokens import make_key

SKEW = 300
seen: list[Principal] = []


@pytest.fixture
def protected(configure_auth: ConfigureAuth) -> func.Function:
    seen.clear()

    @require_auth(scopes=["Orders.Read"])
    def list_orders(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
        seen.append(principal)
        return func.HttpResponse("orders")

    return list_orders  # type: ignore[return-value]


def cache() -> TokenCache:
    return authorizer._functions.runtime.current().authenticator.cache


def test_a_repeat_presentation_is_served_from_the_cache(
    protected: func.Function, issuer: LocalIssuer, clock: FakeClock
) -> None:
    token = issuer.token(clock())
    assert [protected(http_request(token)).status_code for _ in range(3)] == [200, 200, 200]
    assert seen[0] is seen[1] is seen[2]
    assert len(cache()) == 1


def test_the_cache_holds_digests_never_tokens(protected: func.Function, issuer: LocalIssuer, clock: FakeClock) -> None:
    token = issuer.token(clock())
    protected(http_request(token))
    [(key, entry)] = cache()._entries.items()
    assert len(key) == 32
    assert token not in repr(entry) and token.encode() != key


def test_never_past_exp_plus_skew(protected: func.Function, issuer: LocalIssuer, clock: FakeClock) -> None:
    token = issuer.token(clock(), lifetime=100)
    assert protected(http_request(token)).status_code == 200
    clock.advance(100 + SKEW - 1)
    assert protected(http_request(token)).status_code == 200
    clock.advance(1)
    response = protected(http_request(token))
    assert response.status_code == 401
    assert "expired" in response.headers["WWW-Authenticate"]
    assert len(cache()) == 0


def test_never_before_nbf_minus_skew_even_if_the_clock_moves_back(
    protected: func.Function, issuer: LocalIssuer, clock: FakeClock
) -> None:
    token = issuer.token(clock())
    assert protected(http_request(token)).status_code == 200
    clock.advance(-(SKEW + 1))
    assert protected(http_request(token)).status_code == 401


def test_an_entry_whose_key_left_the_jwks_is_dropped(
    protected: func.Function, issuer: LocalIssuer, clock: FakeClock
) -> None:
    old_kid = issuer.signer.kid
    token = issuer.token(clock())
    assert protected(http_request(token)).status_code == 200
    issuer.rotate()
    issuer.retire(old_kid)
    clock.advance(3600)
    protected(http_request(issuer.token(clock())))
    settle()
    response = protected(http_request(token))
    assert response.status_code == 401
    assert len([entry for entry in cache()._entries.values() if entry.kid == old_kid]) == 0


def test_an_entry_whose_kid_now_names_another_key_is_dropped(
    protected: func.Function, issuer: LocalIssuer, clock: FakeClock
) -> None:
    kid = issuer.signer.kid
    token = issuer.token(clock())
    assert protected(http_request(token)).status_code == 200
    replacement = make_key(index=3, kid=kid)
    issuer.retire(kid)
    issuer.rotate(replacement)
    clock.advance(3600)
    protected(http_request(issuer.token(clock())))
    settle()
    assert protected(http_request(token)).status_code == 401


class SwitchableTenants:
    """A tenant policy whose list the test changes, as an operator changes the vault secret."""

    accepts_other_tenants = True

    def __init__(self) -> None:
        self.allowed = {HOME_TENANT, PARTNER_TENANT}

    def check(self, tenant_id: str, *, allow_io: bool) -> None:
        if tenant_id not in self.allowed:
            raise TenantNotAllowed()

    def prefetch(self) -> None:
        return


def test_the_tenant_list_is_checked_on_every_presentation(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    tenants = SwitchableTenants()

    def factory(context: TenantPolicyContext) -> SwitchableTenants:
        return tenants

    authorizer.configure(tenant_policy=factory)
    try:

        @require_auth()
        def me(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("me")

        token = issuer.token(clock(), tenant=PARTNER_TENANT)
        assert me(http_request(token)).status_code == 200
        tenants.allowed.discard(PARTNER_TENANT)
        assert me(http_request(token)).status_code == 403
    finally:
        authorizer.configure(tenant_policy=None)


def test_the_functions_policy_is_checked_on_every_presentation(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    @require_auth(scopes=["Orders.Read"])
    def read(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("read")

    @require_auth(scopes=["Orders.Write"])
    def write(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("write")

    token = issuer.token(clock(), scp="Orders.Read")
    assert [read(http_request(token)).status_code, write(http_request(token)).status_code] == [200, 403]
    assert write(http_request(token)).status_code == 403


def test_refusals_and_garbage_are_never_cached(
    configure_auth: ConfigureAuth, protected: func.Function, issuer: LocalIssuer, clock: FakeClock
) -> None:
    # Multi-tenant, so that a stranger's token is authentic and refused only by the tenant policy.
    configure_auth(ENTRA_ALLOWED_TENANTS=PARTNER_TENANT)
    for index in range(200):
        protected(http_request(f"garbage.{index}.token"))
    protected(http_request(issuer.token(clock(), aud="https://graph.microsoft.com")))
    stranger = issuer.token(clock(), tenant=STRANGER_TENANT)
    assert [protected(http_request(stranger)).status_code for _ in range(2)] == [403, 403]
    assert len(cache()) == 0
    assert protected(http_request(issuer.token(clock(), tenant=PARTNER_TENANT))).status_code == 200
    assert len(cache()) == 1


def test_a_header_no_encoder_can_key_is_an_invalid_token_not_a_failure(
    protected: func.Function, issuer: LocalIssuer, clock: FakeClock
) -> None:
    # The cache key is the header's UTF-8: a lone surrogate (a direct caller's str) has none.
    token = issuer.token(clock())
    answer = protected(http_request(authorization=f"Bearer {token}\ud800"))
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    assert len(cache()) == 0


def test_a_cached_principal_is_read_only_all_the_way_down(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    configure_auth()
    tampering: list[str] = []

    # One principal serves every repeat of its token: a function must not be able to change it.
    @require_auth()
    def meddle(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
        claims: Any = principal.claims
        attempts: list[Callable[[], object]] = [
            lambda: claims["roles"].append("Orders.Admin"),
            lambda: claims["xms_cc"]["cp1"].append("x"),
            lambda: claims.__setitem__("scp", "Orders.Write"),
        ]
        for attempt in attempts:
            try:
                attempt()
                tampering.append("succeeded")
            except (AttributeError, TypeError):
                tampering.append("refused")
        return func.HttpResponse(",".join(principal.claims["roles"]))

    token = issuer.token(clock(), roles=["Orders.Reader"], xms_cc={"cp1": ["a"]})
    first, repeat = meddle(http_request(token)), meddle(http_request(token))
    assert tampering == ["refused"] * 6
    assert first.get_body() == repeat.get_body() == b"Orders.Reader"
    assert len(cache()) == 1


def test_the_cache_is_bounded_in_entries(configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock) -> None:
    configure_auth(ENTRA_TOKEN_CACHE_ENTRIES="3")

    @require_auth()
    def me(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("me")

    tokens = [issuer.token(clock()) for _ in range(5)]
    for token in tokens:
        assert me(http_request(token)).status_code == 200
    # The oldest went first; every token still validates, cached or not.
    assert list(cache()._entries) == [hashlib.sha256(f"Bearer {token}".encode()).digest() for token in tokens[2:]]
    assert [me(http_request(token)).status_code for token in tokens] == [200] * 5


def test_the_cache_is_bounded_in_bytes() -> None:
    bounded = TokenCache(max_entries=100, max_bytes=10_000)
    principal = Principal.from_claims({"tid": HOME_TENANT, "ver": "2.0", "scp": "a"})
    key = VerificationKey(make_key(index=0).private_key.public_key(), None)
    for index in range(20):
        bounded.put(bytes([index]) * 32, ValidatedToken(principal, "k", key, (("2.0", "issuer"),), 0, 10, 3_000))
    assert list(bounded._entries) == [bytes([index]) * 32 for index in (17, 18, 19)]
    assert bounded.estimated_bytes == 9_000
    bounded.put(b"x" * 32, ValidatedToken(principal, "k", key, (("2.0", "issuer"),), 0, 10, 20_000))
    assert len(bounded) == 3


def test_zero_entries_turns_the_cache_off(configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock) -> None:
    configure_auth(ENTRA_TOKEN_CACHE_ENTRIES="0")

    @require_auth()
    def me(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("me")

    token = issuer.token(clock())
    assert [me(http_request(token)).status_code for _ in range(2)] == [200, 200]
    assert len(cache()) == 0


def test_reset_drops_the_cache(protected: func.Function, issuer: LocalIssuer, clock: FakeClock) -> None:
    protected(http_request(issuer.token(clock())))
    assert len(cache()) == 1
    authorizer.reset()
    assert len(cache()) == 0


def test_a_verify_in_progress_holds_no_lock_that_other_requests_need(
    protected: func.Function, issuer: LocalIssuer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While one request is inside its RSA verify, a first sighting and a repeat both complete."""
    held = issuer.token(clock())
    held_input = held.rpartition(".")[0].encode()
    inside, release = threading.Event(), threading.Event()

    def verify_holding_one(jws: CompactJws, key: RSAPublicKey) -> None:
        if jws.signing_input == held_input:
            inside.set()
            release.wait()
        verify_signature(jws, key)

    monkeypatch.setattr(authenticator_module, "verify_signature", verify_holding_one)
    repeat = issuer.token(clock())
    assert protected(http_request(repeat)).status_code == 200
    held_status: list[int] = []
    others: list[int] = []
    holder = threading.Thread(target=lambda: held_status.append(protected(http_request(held)).status_code))
    others_thread = threading.Thread(
        target=lambda: others.extend(
            protected(http_request(token)).status_code for token in (issuer.token(clock()), repeat)
        )
    )
    holder.start()
    try:
        assert inside.wait(timeout=10)
        others_thread.start()
        others_thread.join(timeout=10)
        assert not others_thread.is_alive(), "a request waited for a verify in progress"
        assert others == [200, 200]
        assert held_status == []
    finally:
        release.set()
        holder.join(timeout=10)
        others_thread.join(timeout=10)
    assert held_status == [200]


# --- the cache is not a second validator ------------------------------------------------------------
class Twins:
    """Two authenticators on one issuer and clock, one caching and one not."""

    def __init__(self, issuer: LocalIssuer, clock: FakeClock, tenants: SwitchableTenants) -> None:
        environ = auth_environ(issuer, ENTRA_FETCH_TIMEOUT_SECONDS="2")
        self.sides = []
        for entries in ("10000", "0"):
            settings = AuthSettings.from_environ({**environ, "ENTRA_TOKEN_CACHE_ENTRIES": entries})
            authority = Authority(settings, HttpJsonFetcher(2), clock, multi_tenant=True, rng=random.Random(1))
            self.sides.append(Authenticator(settings, authority, tenants, clock))

    def answers(self, token: str) -> list[str]:
        outcomes = []
        for side in self.sides:
            try:
                outcomes.append(side.authenticate(f"Bearer {token}", allow_io=True, trace=Trace()).tid)
            except AuthError as error:
                outcomes.append(type(error).__name__)
        return outcomes

    def settle(self) -> None:
        for side in self.sides:
            values: list[RefreshingValue[Any]] = [side.authority.key_set, *side.authority.metadata.values()]
            for value in values:
                assert value.wait_idle(10)


def _retire_the_key(issuer: LocalIssuer, clock: FakeClock, tenants: SwitchableTenants) -> None:
    kid = issuer.signer.kid
    issuer.rotate()
    issuer.retire(kid)


def _replace_the_key_under_its_kid(issuer: LocalIssuer, clock: FakeClock, tenants: SwitchableTenants) -> None:
    kid = issuer.signer.kid
    issuer.retire(kid)
    issuer.rotate(make_key(index=3, kid=kid))


# Each input full validation reads besides the token itself: the time, the key under the token's kid
# (its material and the issuer the JWKS names for it), the metadata issuer, and the tenant list.
# A new input of _verify belongs here, or the cache could serve what full validation would refuse.
CHANGES: dict[str, Callable[[LocalIssuer, FakeClock, SwitchableTenants], None]] = {
    "nothing": lambda issuer, clock, tenants: None,
    "time past exp plus skew": lambda issuer, clock, tenants: clock.advance(3600 + SKEW),
    "time back before nbf minus skew": lambda issuer, clock, tenants: clock.advance(-SKEW - 1 - 3601),
    "key retired": _retire_the_key,
    "kid now names another key": _replace_the_key_under_its_kid,
    "key now published for another issuer": lambda issuer, clock, tenants: issuer.key_issuers.update(
        {issuer.signer.kid: "https://login.elsewhere.example/{tenantid}/v2.0"}
    ),
    "metadata names another issuer": lambda issuer, clock, tenants: setattr(
        issuer, "metadata_issuer_base", "https://login.elsewhere.example"
    ),
    "tenant removed from the list": lambda issuer, clock, tenants: tenants.allowed.discard(PARTNER_TENANT),
}


@pytest.mark.parametrize("version", ["2.0", "1.0"])
@pytest.mark.parametrize("change", CHANGES)
def test_a_cached_answer_is_what_full_validation_would_answer_after_any_change(
    change: str, version: str, issuer: LocalIssuer, clock: FakeClock
) -> None:
    # As Entra's JWKS does: the key names the (v2) issuer it signs for, which a v1 token is judged against too.
    issuer.key_issuers[issuer.signer.kid] = f"{issuer.base_url}/{{tenantid}}/v2.0"
    tenants = SwitchableTenants()
    twins = Twins(issuer, clock, tenants)
    token = issuer.token(clock(), tenant=PARTNER_TENANT, version=version)
    assert twins.answers(token) == [PARTNER_TENANT, PARTNER_TENANT]
    CHANGES[change](issuer, clock, tenants)
    # Past the keys' and metadata's lifetime, so that both sides see what changed.
    clock.advance(3601)
    twins.answers(issuer.token(clock(), version=version))
    twins.answers(issuer.token(clock()))
    twins.settle()
    cached, uncached = twins.answers(token)
    assert cached == uncached
