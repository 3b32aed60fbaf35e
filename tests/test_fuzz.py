"""Property-based fuzzing of the Authorization header and of token mutations, through the decorator.

Whatever arrives, the answer is 200, 401, 403 or 503, no exception escapes, and no mutated token
is accepted. `make test` runs a short profile; `make fuzz` a long one (HYPOTHESIS_PROFILE=long).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import azure.functions as func
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from authorizer import require_auth
from authorizer._token.compact import decode_segment
from tests.conftest import ConfigureAuth, http_request
from tests.support.clock import FakeClock
from tests.support.issuer import LocalIssuer
from tests.support.log_hygiene import assert_no_token_material, watched_logs
from tests.support.tokens import b64url, compact, encode_json, make_key

ANSWERS = {200, 401, 403, 503}
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def protected(configure_auth: ConfigureAuth) -> func.Function:
    @require_auth(scopes=["Orders.Read"], app_roles=["Orders.Read.All"])
    def list_orders(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("orders")

    return list_orders  # type: ignore[return-value]


@pytest.fixture
def seen_tokens() -> Iterator[list[str]]:
    """Every token a fuzz test sends; afterwards no log record may hold any part of one."""
    tokens: list[str] = []
    with watched_logs() as logs:
        yield tokens
    assert_no_token_material(logs.records, tokens)


_header_text = st.one_of(
    st.none(),
    st.text(max_size=300),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \t", max_size=400),
    st.builds(
        lambda scheme, rest: f"{scheme} {rest}",
        st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "Bearer "]),
        st.text(max_size=300),
    ),
    st.builds(lambda parts: "Bearer " + ".".join(parts), st.lists(st.text(alphabet="AB-_=", max_size=40), max_size=6)),
)


@FUZZ
@given(authorization=_header_text)
def test_any_authorization_header_gets_a_documented_answer(
    authorization: str | None, protected: func.Function, seen_tokens: list[str]
) -> None:
    if authorization:
        seen_tokens.append(authorization)
    response = protected(http_request(authorization=authorization))
    assert response.status_code in {401}
    assert response.headers["Cache-Control"] == "no-store"


def _flip_bit(token: str, segment: int, position: int) -> str:
    parts = token.split(".")
    raw = bytearray(decode_segment(parts[segment]))
    index = position % (len(raw) * 8)
    raw[index // 8] ^= 1 << (index % 8)
    parts[segment] = b64url(bytes(raw))
    return ".".join(parts)


def _reencode(token: str, segment: int, style: str) -> str:
    parts = token.split(".")
    raw = decode_segment(parts[segment])
    if style == "padded":
        parts[segment] = base64.urlsafe_b64encode(raw).decode()
    elif style == "standard-alphabet":
        parts[segment] = base64.b64encode(raw).decode().rstrip("=")
    elif style == "swapcase":
        parts[segment] = parts[segment].swapcase()
    else:
        parts[segment] = parts[segment] + "A"
    return ".".join(parts)


_mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 2), st.integers(0, 10_000)),
    st.tuples(
        st.just("reencode"), st.integers(0, 2), st.sampled_from(["padded", "standard-alphabet", "swapcase", "extra"])
    ),
    st.tuples(st.just("swap"), st.permutations([0, 1, 2]), st.just(0)),
    st.tuples(st.just("truncate"), st.integers(1, 400), st.just(0)),
    st.tuples(st.just("resign"), st.sampled_from(["scp", "roles", "tid", "aud", "exp"]), st.just(0)),
)


@FUZZ
@given(mutation=_mutation)
def test_no_mutated_token_is_accepted(
    mutation: tuple[str, object, object],
    protected: func.Function,
    issuer: LocalIssuer,
    clock: FakeClock,
    seen_tokens: list[str],
) -> None:
    original = issuer.token(clock())
    kind, first, second = mutation
    if kind == "flip":
        mutated = _flip_bit(original, int(first), int(second))  # type: ignore[call-overload]
    elif kind == "reencode":
        mutated = _reencode(original, int(first), str(second))  # type: ignore[call-overload]
    elif kind == "swap":
        parts = original.split(".")
        mutated = ".".join(parts[index] for index in first)  # type: ignore[attr-defined]
    elif kind == "truncate":
        mutated = original[: -int(first)]  # type: ignore[call-overload]
    else:
        # Claims edited in the attacker's favour and re-signed with a key the issuer never published.
        claims = issuer.claims(clock(), scp="Orders.Read Orders.Write", roles=["Orders.Read.All"])
        header = {"alg": "RS256", "typ": "JWT", "kid": issuer.signer.kid}
        mutated = compact(header, encode_json(claims), make_key(index=7))
    assume(mutated != original)
    seen_tokens.extend([original, mutated])
    response = protected(http_request(mutated))
    assert response.status_code in ANSWERS
    assert response.status_code != 200
    assert protected(http_request(original)).status_code == 200
