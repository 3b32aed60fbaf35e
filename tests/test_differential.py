"""Never more lenient than PyJWT: every token we accept, PyJWT accepts with the same inputs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from authorizer._errors import InvalidToken
from authorizer._remote.jwks import VerificationKey
from authorizer._token.validation import Expectations, expected_issuer, validate
from tests.support.attacks import ATTACKS, SKEW, Case, Ctx
from tests.support.clock import START
from tests.support.entra import CLIENT_ID, HOME_TENANT, PARTNER_TENANT, V1_ISSUER_TEMPLATE, v2_issuer
from tests.support.tokens import compact, make_key

BASE_URL = "http://127.0.0.1:4000"
AUDIENCES = frozenset({CLIENT_ID, f"api://{CLIENT_ID}"})
EXPECTATIONS = Expectations(audiences=AUDIENCES, clock_skew_seconds=SKEW)
TEMPLATES = {"2.0": v2_issuer(BASE_URL, "{tenantid}"), "1.0": V1_ISSUER_TEMPLATE}
CTX = Ctx(base_url=BASE_URL, now=START, key=make_key(index=0, kid="key-a"), attacker=make_key(index=9, kid="evil"))
KEYS = {CTX.key.kid: VerificationKey(CTX.key.private_key.public_key(), None)}


class _FrozenDatetime(datetime):
    """PyJWT reads the time through datetime.now; the oracle must see our instant."""

    @classmethod
    def now(cls, tz: Any = None) -> _FrozenDatetime:
        return cls.fromtimestamp(START, tz=tz or UTC)


@pytest.fixture(autouse=True)
def frozen_pyjwt_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jwt.api_jwt, "datetime", _FrozenDatetime)


def pyjwt_accepts(token: str, tenant: str, version: str) -> bool:
    try:
        jwt.decode(
            token,
            key=CTX.key.private_key.public_key(),
            algorithms=["RS256"],
            audience=sorted(AUDIENCES),
            issuer=expected_issuer(TEMPLATES[version], tenant),
            leeway=SKEW,
            options={"require": ["exp", "iss", "aud"]},
        )
    except jwt.PyJWTError:
        return False
    return True


def assert_not_more_lenient(token: str) -> None:
    try:
        claims = validate(token, KEYS, EXPECTATIONS, TEMPLATES, START)
    except InvalidToken:
        return
    assert pyjwt_accepts(token, claims["tid"], claims["ver"]), "accepted a token PyJWT refuses"


@pytest.mark.parametrize("case", ATTACKS, ids=lambda case: case.name)
def test_attack_table_agrees_with_pyjwt_on_everything_we_accept(case: Case) -> None:
    assert_not_more_lenient(case.build(CTX))


def test_the_oracle_is_live() -> None:
    # Guards against a differential test that passes because PyJWT refuses everything.
    token = CTX.token()
    assert pyjwt_accepts(token, HOME_TENANT, "2.0")
    assert not pyjwt_accepts(CTX.token(exp=int(START) - SKEW - 10), HOME_TENANT, "2.0")


# A claim left out of the token; None is kept, as a JSON null.
ABSENT = "<absent>"
_times = st.one_of(
    st.integers(min_value=-2 * SKEW, max_value=2 * SKEW).map(lambda offset: int(START) + offset),
    st.floats(min_value=-2 * SKEW, max_value=2 * SKEW).map(lambda offset: START + offset),
    st.sampled_from([None, ABSENT, "1800000000", True, 0, 10**12]),
)
_claim_changes = st.fixed_dictionaries(
    {},
    optional={
        "exp": _times,
        "nbf": _times,
        "iat": _times,
        "aud": st.sampled_from(
            [CLIENT_ID, f"api://{CLIENT_ID}", "https://graph.microsoft.com", [CLIENT_ID], None, ABSENT]
        ),
        "tid": st.sampled_from([HOME_TENANT, PARTNER_TENANT, "common", None, ABSENT]),
        "ver": st.sampled_from(["1.0", "2.0", None, ABSENT, "2"]),
        "iss": st.sampled_from(
            [
                v2_issuer(BASE_URL, HOME_TENANT),
                v2_issuer(BASE_URL, PARTNER_TENANT),
                "https://sts.windows.net/x/",
                None,
                ABSENT,
            ]
        ),
    },
)
_headers = st.fixed_dictionaries(
    {"alg": st.sampled_from(["RS256", "RS256", "RS256", "none", "HS256", "RS512"])},
    optional={"typ": st.sampled_from(["JWT", "at+jwt", "jwt", "JOSE"]), "kid": st.sampled_from(["key-a", "evil", ""])},
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# JSON null in each time claim: once accepted here and refused by PyJWT.
@example(changes={"nbf": None}, header={"alg": "RS256"}, version="2.0")
@example(changes={"iat": None}, header={"alg": "RS256"}, version="1.0")
@given(changes=_claim_changes, header=_headers, version=st.sampled_from(["1.0", "2.0"]))
def test_generated_tokens_are_never_accepted_unless_pyjwt_accepts_them(
    changes: dict[str, Any], header: dict[str, Any], version: str
) -> None:
    claims = CTX.claims(version=version, tenant=HOME_TENANT)
    claims.update(changes)
    claims = {name: value for name, value in claims.items() if value != ABSENT}
    header.setdefault("kid", "key-a")
    assert_not_more_lenient(compact(header, claims, CTX.key))
