"""Token validation as pure functions of token, key, expectations and time: no I/O.

The order is the security argument: header checks, then the signature, and only then
any claim. Callers look the key up between ``check_header`` and ``verify_signature``
and the issuer template up between ``check_claims`` and ``check_issuer``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from .._errors import (
    BadSignature,
    InvalidAudience,
    InvalidClaim,
    InvalidIssuer,
    TokenExpired,
    TokenNotYetValid,
    UnacceptedTokenVersion,
    UnknownSigningKey,
    UnsupportedAlgorithm,
    UnsupportedHeader,
)
from .._remote.metadata import TENANT_PLACEHOLDER
from .._settings.app_settings import GUID, VERSIONS
from .compact import CompactJws, decode_payload, is_number, parse

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    from .._remote.jwks import VerificationKey

ALGORITHM = "RS256"
ACCEPTED_TYPES = frozenset({"jwt", "at+jwt", "application/jwt", "application/at+jwt"})
MAX_KID_LENGTH = 128

# Bound on the first verify: cryptography is imported with the first key, not when the app loads.
_verifies: Callable[[RSAPublicKey, bytes, bytes], bool] | None = None


@dataclass(frozen=True)
class Expectations:
    """What this API accepts, independent of any single token."""

    audiences: frozenset[str]
    clock_skew_seconds: int
    versions: frozenset[str] = frozenset(VERSIONS)


class TokenFacts(NamedTuple):
    """The claims every later step relies on, checked for type and format."""

    tenant_id: str
    version: str
    # The instants between which these claims pass, with the skew: how long a result may be reused.
    valid_from: float
    valid_until: float


def check_header(jws: CompactJws) -> str:
    """Check the protected header and return the key id to look up.

    Raises:
        UnsupportedAlgorithm: anything but RS256 (stops alg=none and HS256-with-public-key).
        UnsupportedHeader: a crit extension, an unexpected typ, or a missing or odd kid.
    """
    header = jws.header
    # Exact, case-sensitive: "none", "None", "HS256" and friends all end here.
    if header.get("alg") != ALGORITHM:
        raise UnsupportedAlgorithm()
    # We implement no extensions, so any critical one must make us refuse (RFC 7515 4.1.11).
    if "crit" in header:
        raise UnsupportedHeader()
    token_type = header.get("typ")
    if token_type is not None and (not isinstance(token_type, str) or token_type.lower() not in ACCEPTED_TYPES):
        raise UnsupportedHeader()
    # The key comes only from our JWKS, by kid; jwk, jku, x5u and x5c are never consulted.
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
        raise UnsupportedHeader()
    return kid


def verify_signature(jws: CompactJws, key: RSAPublicKey) -> None:
    """Verify the RS256 signature over header and payload.

    Raises:
        BadSignature: the signature does not verify with this key.
    """
    verifies = _verifies or _bind_verifier()
    if not verifies(key, jws.signature, jws.signing_input):
        raise BadSignature()


def _bind_verifier() -> Callable[[RSAPublicKey, bytes, bytes], bool]:
    global _verifies
    from .rs256 import verifies

    _verifies = verifies
    return verifies


def decode_claims(jws: CompactJws) -> dict[str, Any]:
    """Decode the payload; call only after ``verify_signature`` succeeded.

    Raises:
        MalformedToken: the payload is not a UTF-8 JSON object with unique names.
    """
    return decode_payload(jws)


def check_claims(claims: Mapping[str, Any], expectations: Expectations, now: float) -> TokenFacts:
    """Check lifetime, audience, tenant id and version of verified claims.

    Raises:
        TokenExpired, TokenNotYetValid: outside exp / nbf / iat, with the skew as leeway.
        InvalidAudience: aud is not a string naming this API.
        InvalidClaim: exp missing, a time claim that is not a number, tid not a GUID,
            or ver not 1.0 or 2.0.
    """
    skew = expectations.clock_skew_seconds
    expires = claims.get("exp")
    # A string is not a number: "exp": "9999999999" must not pass as far future.
    if not is_number(expires):
        raise InvalidClaim("The access token has no valid exp claim.")
    # Whole seconds, rounded down, as PyJWT does: we are never more lenient than it.
    valid_until = int(expires) + skew
    if valid_until <= now:
        raise TokenExpired()
    latest_start = now + skew
    starts = -math.inf
    for name in ("nbf", "iat"):
        if name not in claims:
            continue
        value = claims[name]
        # Present means a number: "nbf": null is no more a missing claim than "nbf": "0" is (PyJWT agrees).
        if not is_number(value):
            raise InvalidClaim(f"The access token has a malformed {name} claim.")
        if value > latest_start:
            raise TokenNotYetValid()
        if value > starts:
            starts = value
    audience = claims.get("aud")
    # A token minted for another API (Graph, a sibling service) must not open this one.
    if type(audience) is not str or audience not in expectations.audiences:
        raise InvalidAudience()
    tenant_id = claims.get("tid")
    # The GUID shape also makes tid safe to place into an issuer template.
    if type(tenant_id) is not str or (tenant_id not in _checked_tenants and not _is_tenant_id(tenant_id)):
        raise InvalidClaim("The access token has no valid tid claim.")
    version = claims.get("ver")
    if version not in VERSIONS:
        raise InvalidClaim("The access token has no supported ver claim.")
    if version not in expectations.versions:
        raise UnacceptedTokenVersion()
    return TokenFacts(tenant_id, version, starts - skew, valid_until)


# Tenant ids already seen to be lowercase GUIDs (bounded): most calls skip the regex.
_checked_tenants: set[str] = set()


def _is_tenant_id(value: str) -> bool:
    if not GUID.fullmatch(value) or value != value.lower():
        return False
    if len(_checked_tenants) >= 1024:
        _checked_tenants.clear()
    _checked_tenants.add(value)
    return True


def expected_issuer(template: str, tenant_id: str) -> str:
    """Resolve a metadata issuer, which may hold a {tenantid} placeholder, for one tenant."""
    return template.replace(TENANT_PLACEHOLDER, tenant_id)


def check_key_issuer(claims: Mapping[str, Any], facts: TokenFacts, key_issuer: str | None, v2_template: str) -> None:
    """Where the JWKS names an issuer for the signing key, the token's must be it (as Microsoft's validators do).

    Call after ``check_issuer``. A v1 token carries the v1 spelling of its issuer, which a key's
    (v2) issuer never matches: the v2 issuer of the same tenant stands in for it.

    Raises:
        InvalidIssuer: the key was published for another issuer (another cloud or tenant, say).
    """
    if key_issuer is None:
        return
    tenant = facts.tenant_id
    # A key published for one tenant or cloud must not vouch for tokens of another.
    if expected_issuer(key_issuer, tenant) not in (claims.get("iss"), expected_issuer(v2_template, tenant)):
        raise InvalidIssuer()


def check_issuer(claims: Mapping[str, Any], facts: TokenFacts, issuer_template: str) -> None:
    """Compare iss exactly with the metadata issuer for the token's own tenant.

    Raises:
        InvalidIssuer: any difference, including case, trailing slash or another tenant.
    """
    # Exact match against discovery, never a prefix or a pattern: lookalike hosts fail here.
    if claims.get("iss") != expected_issuer(issuer_template, facts.tenant_id):
        raise InvalidIssuer()


def validate(
    token: str,
    keys: Mapping[str, VerificationKey],
    expectations: Expectations,
    issuer_templates: Mapping[str, str],
    now: float,
) -> dict[str, Any]:
    """Validate a token completely against keys and issuer templates already in hand.

    ``issuer_templates`` maps a token version ("1.0", "2.0") to its metadata issuer.

    Raises:
        InvalidToken: a subclass naming the first check that failed.
    """
    jws = parse(token)
    key = keys.get(check_header(jws))
    if key is None:
        raise UnknownSigningKey()
    verify_signature(jws, key.public_key)
    claims = decode_claims(jws)
    facts = check_claims(claims, expectations, now)
    template = issuer_templates.get(facts.version)
    if template is None:
        raise InvalidIssuer()
    check_issuer(claims, facts, template)
    check_key_issuer(claims, facts, key.issuer, issuer_templates.get("2.0", template))
    return claims
