"""The pure validator: every case of the attack table, with keys and issuers in hand."""

from __future__ import annotations

import pytest

from authorizer._errors import InvalidIssuer, MalformedToken, TokenTooLarge
from authorizer._remote.jwks import VerificationKey
from authorizer._token.compact import MAX_TOKEN_LENGTH, parse
from authorizer._token.validation import Expectations, expected_issuer, validate
from tests.support.attacks import ATTACKS, SKEW, Case, Ctx
from tests.support.clock import START
from tests.support.entra import CLIENT_ID, HOME_TENANT, V1_ISSUER_TEMPLATE, v2_issuer
from tests.support.tokens import make_key

BASE_URL = "http://127.0.0.1:4000"
EXPECTATIONS = Expectations(audiences=frozenset({CLIENT_ID, f"api://{CLIENT_ID}"}), clock_skew_seconds=SKEW)
ISSUERS = {"2.0": v2_issuer(BASE_URL, HOME_TENANT), "1.0": V1_ISSUER_TEMPLATE.replace("{tenantid}", HOME_TENANT)}


@pytest.fixture(scope="module")
def ctx() -> Ctx:
    return Ctx(base_url=BASE_URL, now=START, key=make_key(index=0, kid="key-a"), attacker=make_key(index=9, kid="evil"))


def keys_of(ctx: Ctx) -> dict[str, VerificationKey]:
    return {ctx.key.kid: VerificationKey(ctx.key.private_key.public_key(), None)}


@pytest.mark.parametrize("case", ATTACKS, ids=lambda case: case.name)
def test_attack_table(case: Case, ctx: Ctx) -> None:
    token = case.build(ctx)
    if case.expected is None:
        claims = validate(token, keys_of(ctx), EXPECTATIONS, ISSUERS, ctx.now)
        assert claims["tid"] == HOME_TENANT
        return
    with pytest.raises(case.expected) as caught:
        validate(token, keys_of(ctx), EXPECTATIONS, ISSUERS, ctx.now)
    assert type(caught.value) is case.expected


def test_size_cap_is_checked_before_any_parsing() -> None:
    # Not even three segments: the length alone decides.
    with pytest.raises(TokenTooLarge):
        parse("x" * (MAX_TOKEN_LENGTH + 1))


def test_a_token_of_exactly_the_cap_is_parsed() -> None:
    with pytest.raises(MalformedToken) as caught:
        parse("x" * MAX_TOKEN_LENGTH)
    assert type(caught.value) is MalformedToken


def test_multi_tenant_issuer_templates_resolve_against_the_tokens_own_tenant(ctx: Ctx) -> None:
    partner = "22222222-2222-4222-8222-222222222222"
    templated = {"2.0": v2_issuer(BASE_URL, "{tenantid}"), "1.0": V1_ISSUER_TEMPLATE}
    for version in ("2.0", "1.0"):
        token = ctx.token(version=version, tenant=partner)
        assert validate(token, keys_of(ctx), EXPECTATIONS, templated, ctx.now)["tid"] == partner


def test_a_version_without_metadata_is_refused(ctx: Ctx) -> None:
    with pytest.raises(InvalidIssuer):
        validate(ctx.token(version="1.0"), keys_of(ctx), EXPECTATIONS, {"2.0": ISSUERS["2.0"]}, ctx.now)


def test_expected_issuer_substitutes_only_the_placeholder() -> None:
    assert expected_issuer("https://login.example/{tenantid}/v2.0", HOME_TENANT) == (
        f"https://login.example/{HOME_TENANT}/v2.0"
    )
    assert expected_issuer("https://login.example/fixed/v2.0", HOME_TENANT) == "https://login.example/fixed/v2.0"


@pytest.mark.parametrize("version", ["2.0", "1.0"])
def test_a_key_vouches_only_for_the_issuer_the_jwks_names_for_it(ctx: Ctx, version: str) -> None:
    templated = {"2.0": v2_issuer(BASE_URL, "{tenantid}"), "1.0": V1_ISSUER_TEMPLATE}
    token = ctx.token(version=version)
    public_key = ctx.key.private_key.public_key()
    # Entra's keys name the v2 issuer with a placeholder; a v1 token of the same tenant matches it too.
    own = {ctx.key.kid: VerificationKey(public_key, v2_issuer(BASE_URL, "{tenantid}"))}
    assert validate(token, own, EXPECTATIONS, templated, ctx.now)["ver"] == version
    pinned = {ctx.key.kid: VerificationKey(public_key, v2_issuer(BASE_URL, HOME_TENANT))}
    assert validate(token, pinned, EXPECTATIONS, templated, ctx.now)["tid"] == HOME_TENANT
    # A key the JWKS publishes for another cloud or tenant must not vouch for this token.
    for elsewhere in ("https://login.elsewhere.example/{tenantid}/v2.0", v2_issuer(BASE_URL, "another-tenant")):
        foreign = {ctx.key.kid: VerificationKey(public_key, elsewhere)}
        with pytest.raises(InvalidIssuer):
            validate(token, foreign, EXPECTATIONS, templated, ctx.now)
