"""The attack table: token variations and the refusal each must meet.

Shared by the pure validator tests and the decorator tests, so each case is checked both
as an exception and as the HTTP answer a client sees.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authorizer._errors import (
    BadSignature,
    InvalidAudience,
    InvalidClaim,
    InvalidIssuer,
    InvalidToken,
    MalformedToken,
    TokenExpired,
    TokenNotYetValid,
    TokenTooLarge,
    UnknownSigningKey,
    UnsupportedAlgorithm,
    UnsupportedHeader,
)
from authorizer._token.compact import decode_segment

from .entra import CLIENT_ID, HOME_TENANT, PARTNER_TENANT, claims, v1_issuer, v2_issuer
from .tokens import SigningKey, b64url, compact, encode_json

SKEW = 300


@dataclass(frozen=True)
class Ctx:
    base_url: str
    now: float
    key: SigningKey
    attacker: SigningKey

    def header(self, **changes: Any) -> dict[str, Any]:
        header: dict[str, Any] = {"alg": "RS256", "typ": "JWT", "kid": self.key.kid}
        for name, value in changes.items():
            if value is None:
                header.pop(name, None)
            else:
                header[name] = value
        return header

    def claims(self, **options: Any) -> dict[str, Any]:
        return claims(self.base_url, self.now, **options)

    def token(self, key: SigningKey | None = None, header: dict[str, Any] | None = None, **options: Any) -> str:
        return compact(header or self.header(), self.claims(**options), key or self.key)


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Ctx], str]
    expected: type[InvalidToken] | None


def _hs256_with_public_key(ctx: Ctx) -> str:
    # The classic confusion: the public key's PEM used as an HMAC secret.
    signing_input = f"{b64url(encode_json(ctx.header(alg='HS256')))}.{b64url(encode_json(ctx.claims()))}"
    mac = hmac.new(ctx.key.public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def _unsigned(alg: str) -> Callable[[Ctx], str]:
    return lambda ctx: compact(ctx.header(alg=alg), ctx.claims(), None)


def _signed_as(alg: str) -> Callable[[Ctx], str]:
    return lambda ctx: ctx.token(header=ctx.header(alg=alg))


def _tamper_payload(ctx: Ctx) -> str:
    header, _, signature = ctx.token(scp="Orders.Read").split(".")
    forged = b64url(encode_json(ctx.claims(scp="Orders.Read Orders.Write Admin")))
    return f"{header}.{forged}.{signature}"


def _flip_signature_bit(ctx: Ctx) -> str:
    header, payload, signature = ctx.token().split(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    return f"{header}.{payload}.{flipped}"


def _truncate_signature(ctx: Ctx) -> str:
    header, payload, signature = ctx.token().split(".")
    return f"{header}.{payload}.{b64url(decode_segment(signature)[:-3])}"


def _raw_signed(header: bytes | dict[str, Any], payload: bytes | dict[str, Any]) -> Callable[[Ctx], str]:
    return lambda ctx: compact(header, payload, ctx.key)


def _duplicate_header_alg(ctx: Ctx) -> str:
    header = b'{"alg":"none","alg":"RS256","kid":"' + ctx.key.kid.encode() + b'"}'
    return compact(header, ctx.claims(), ctx.key)


def _duplicate_claim(ctx: Ctx) -> str:
    body = json.dumps(ctx.claims())[:-1] + ', "aud": "https://graph.microsoft.com"}'
    return compact(ctx.header(), body.encode(), ctx.key)


def _header_with_trailing_object(ctx: Ctx) -> str:
    # Parsers differ on what follows the first object: some stop there, some read the last one.
    header = json.dumps(ctx.header()) + '{"alg":"none"}'
    return compact(header.encode(), ctx.claims(), ctx.key)


def _payload_with_trailing_object(ctx: Ctx) -> str:
    body = json.dumps(ctx.claims()) + '{"aud":"https://graph.microsoft.com"}'
    return compact(ctx.header(), body.encode(), ctx.key)


def _payload_with_nan(ctx: Ctx) -> str:
    body = json.dumps(ctx.claims())[:-1] + ', "exp2": NaN}'
    return compact(ctx.header(), body.encode(), ctx.key)


def _non_canonical_segment(ctx: Ctx) -> str:
    header, payload, signature = ctx.token().split(".")
    # Same bytes, different spelling: set spare low bits in the last character.
    spare = {2: 0b1111, 3: 0b11}.get(len(signature) % 4)
    assert spare is not None
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet[alphabet.index(signature[-1]) | 1]
    return f"{header}.{payload}.{signature[:-1]}{last}"


def _with_segments(transform: Callable[[list[str]], list[str]]) -> Callable[[Ctx], str]:
    return lambda ctx: ".".join(transform(ctx.token().split(".")))


ATTACKS: list[Case] = [
    # Algorithm confusion.
    *[Case(f"alg-{alg}-unsigned", _unsigned(alg), UnsupportedAlgorithm) for alg in ("none", "None", "NONE", "nOnE")],
    Case("alg-HS256-with-public-key", _hs256_with_public_key, UnsupportedAlgorithm),
    Case("alg-missing", lambda c: c.token(header=c.header(alg=None)), UnsupportedAlgorithm),
    Case("alg-rs256-lowercase", lambda c: c.token(header=c.header(alg="rs256")), UnsupportedAlgorithm),
    *[Case(f"alg-{alg}", _signed_as(alg), UnsupportedAlgorithm) for alg in ("RS384", "PS256", "ES256")],
    # Keys named by the token itself are never used.
    Case(
        "embedded-jwk-attacker-kid",
        lambda c: c.token(key=c.attacker, header=c.header(kid=c.attacker.kid, jwk=c.attacker.public_jwk)),
        UnknownSigningKey,
    ),
    Case(
        "embedded-jwk-known-kid",
        lambda c: c.token(key=c.attacker, header=c.header(jwk=c.attacker.public_jwk)),
        BadSignature,
    ),
    Case(
        "jku-remote-keys",
        lambda c: c.token(key=c.attacker, header=c.header(kid=c.attacker.kid, jku=f"{c.base_url}/attacker/jwks")),
        UnknownSigningKey,
    ),
    Case(
        "x5u-remote-cert",
        lambda c: c.token(key=c.attacker, header=c.header(x5u=f"{c.base_url}/attacker/cert.pem")),
        BadSignature,
    ),
    Case("x5c-embedded-chain", lambda c: c.token(key=c.attacker, header=c.header(x5c=["MIIB"])), BadSignature),
    # kid tricks.
    Case("kid-missing", lambda c: c.token(header=c.header(kid=None)), UnsupportedHeader),
    Case("kid-empty", lambda c: c.token(header=c.header(kid="")), UnsupportedHeader),
    Case("kid-number", lambda c: c.token(header=c.header(kid=1)), UnsupportedHeader),
    Case("kid-oversized", lambda c: c.token(header=c.header(kid="k" * 129)), UnsupportedHeader),
    Case("kid-path-traversal", lambda c: c.token(header=c.header(kid="../../../etc/passwd")), UnknownSigningKey),
    Case("kid-known-but-other-key", lambda c: c.token(key=c.attacker), BadSignature),
    # Header parameters we must refuse.
    Case("crit-exp", lambda c: c.token(header=c.header(crit=["exp"], exp=1)), UnsupportedHeader),
    Case("crit-empty", lambda c: c.token(header=c.header(crit=[])), UnsupportedHeader),
    Case("typ-id-token", lambda c: c.token(header=c.header(typ="id_token")), UnsupportedHeader),
    Case("typ-number", lambda c: c.token(header=c.header(typ=1)), UnsupportedHeader),
    # Tampering.
    Case("tampered-payload", _tamper_payload, BadSignature),
    Case("tampered-signature-bit", _flip_signature_bit, BadSignature),
    Case("truncated-signature", _truncate_signature, BadSignature),
    Case(
        "signature-from-other-token",
        lambda c: c.token().rsplit(".", 1)[0] + "." + c.token(scp="Admin").rsplit(".", 1)[1],
        BadSignature,
    ),
    # Structure.
    Case("two-segments", _with_segments(lambda s: s[:2]), MalformedToken),
    Case("four-segments", _with_segments(lambda s: [*s, s[2]]), MalformedToken),
    Case("jwe-five-segments", _with_segments(lambda s: [s[0], "", s[1], s[1], s[2]]), MalformedToken),
    Case("empty-signature", _with_segments(lambda s: [s[0], s[1], ""]), BadSignature),
    Case("empty-payload", _with_segments(lambda s: [s[0], "", s[2]]), MalformedToken),
    Case("padded-segment", _with_segments(lambda s: [s[0] + "=" * (-len(s[0]) % 4 or 4), s[1], s[2]]), MalformedToken),
    Case(
        "standard-base64-alphabet",
        _with_segments(lambda s: [s[0], s[1].replace("-", "+").replace("_", "/") + "+/", s[2]]),
        MalformedToken,
    ),
    Case("whitespace-inside", _with_segments(lambda s: [s[0], s[1][:10] + " " + s[1][10:], s[2]]), MalformedToken),
    Case("non-canonical-base64", _non_canonical_segment, MalformedToken),
    Case("header-not-json", _raw_signed(b"not json", {"a": 1}), MalformedToken),
    Case("header-json-array", _raw_signed(b'["RS256"]', {"a": 1}), MalformedToken),
    Case("header-not-utf8", _raw_signed(b'{"alg":"RS256","kid":"\xff"}', {"a": 1}), MalformedToken),
    Case("header-duplicate-alg", _duplicate_header_alg, MalformedToken),
    Case("payload-not-json", lambda c: compact(c.header(), b"\x00garbage", c.key), MalformedToken),
    Case("payload-json-array", lambda c: compact(c.header(), b"[1, 2]", c.key), MalformedToken),
    Case("payload-duplicate-claim", _duplicate_claim, MalformedToken),
    Case("header-trailing-object", _header_with_trailing_object, MalformedToken),
    Case("payload-trailing-object", _payload_with_trailing_object, MalformedToken),
    Case(
        "payload-json-padded-with-spaces",
        lambda c: compact(c.header(), b" " + encode_json(c.claims()) + b" ", c.key),
        MalformedToken,
    ),
    Case("payload-nan", _payload_with_nan, MalformedToken),
    Case("oversized-token", lambda c: c.token(padding="x" * 17000), TokenTooLarge),
    # Lifetime.
    Case("exp-missing", lambda c: c.token(exp=None), InvalidClaim),
    Case("exp-string", lambda c: c.token(exp=str(int(c.now) + 3600)), InvalidClaim),
    Case("exp-bool", lambda c: c.token(exp=True), InvalidClaim),
    Case("exp-at-skew-boundary", lambda c: c.token(exp=int(c.now) - SKEW), TokenExpired),
    Case("exp-fraction-past-boundary", lambda c: c.token(exp=c.now - SKEW + 0.5), TokenExpired),
    Case("exp-one-second-inside-skew", lambda c: c.token(exp=int(c.now) - SKEW + 1), None),
    Case("exp-long-past", lambda c: c.token(exp=int(c.now) - 86400), TokenExpired),
    Case("nbf-beyond-skew", lambda c: c.token(nbf=int(c.now) + SKEW + 1), TokenNotYetValid),
    Case("nbf-at-skew", lambda c: c.token(nbf=int(c.now) + SKEW), None),
    Case("nbf-string", lambda c: c.token(nbf="0"), InvalidClaim),
    # A present claim must be a number: PyJWT refuses null, and so do we.
    Case("nbf-null", lambda c: compact(c.header(), {**c.claims(), "nbf": None}, c.key), InvalidClaim),
    Case("iat-null", lambda c: compact(c.header(), {**c.claims(), "iat": None}, c.key), InvalidClaim),
    Case("iat-beyond-skew", lambda c: c.token(iat=int(c.now) + SKEW + 1), TokenNotYetValid),
    Case("iat-infinite-as-huge", lambda c: c.token(iat=10**400), TokenNotYetValid),
    # Audience.
    Case("aud-graph", lambda c: c.token(aud="https://graph.microsoft.com"), InvalidAudience),
    Case("aud-graph-guid", lambda c: c.token(aud="00000003-0000-0000-c000-000000000000"), InvalidAudience),
    Case("aud-other-api", lambda c: c.token(aud="99999999-0000-4000-8000-000000000000"), InvalidAudience),
    Case("aud-list", lambda c: c.token(aud=[CLIENT_ID]), InvalidAudience),
    Case("aud-uppercase-lookalike", lambda c: c.token(aud=f"API://{CLIENT_ID}"), InvalidAudience),
    Case("aud-trailing-space", lambda c: c.token(aud=f"{CLIENT_ID} "), InvalidAudience),
    Case("aud-missing", lambda c: c.token(aud=None), InvalidAudience),
    Case("aud-app-id-uri", lambda c: c.token(aud=f"api://{CLIENT_ID}"), None),
    # Issuer.
    Case("iss-other-tenant", lambda c: c.token(iss=v2_issuer(c.base_url, PARTNER_TENANT)), InvalidIssuer),
    Case(
        "iss-lookalike-host", lambda c: c.token(iss=v2_issuer(c.base_url + ".evil.example", HOME_TENANT)), InvalidIssuer
    ),
    Case("iss-trailing-slash", lambda c: c.token(iss=v2_issuer(c.base_url, HOME_TENANT) + "/"), InvalidIssuer),
    Case("iss-uppercase", lambda c: c.token(iss=v2_issuer(c.base_url, HOME_TENANT).upper()), InvalidIssuer),
    Case("iss-v1-on-v2-token", lambda c: c.token(iss=v1_issuer(HOME_TENANT)), InvalidIssuer),
    Case("iss-v2-on-v1-token", lambda c: c.token(version="1.0", iss=v2_issuer(c.base_url, HOME_TENANT)), InvalidIssuer),
    Case("iss-missing", lambda c: c.token(iss=None), InvalidIssuer),
    Case("iss-template-literal", lambda c: c.token(iss=v2_issuer(c.base_url, "{tenantid}")), InvalidIssuer),
    # Tenant id.
    Case("tid-missing", lambda c: c.token(tid=None), InvalidClaim),
    Case("tid-uppercase", lambda c: c.token(tid="abcdef00-1111-4111-8111-111111111111".upper()), InvalidClaim),
    Case("tid-common", lambda c: c.token(tid="common"), InvalidClaim),
    Case("tid-with-suffix", lambda c: c.token(tid=HOME_TENANT + "/v2.0"), InvalidClaim),
    Case("tid-number", lambda c: c.token(tid=1), InvalidClaim),
    # Version.
    Case("ver-missing", lambda c: c.token(ver=None), InvalidClaim),
    Case("ver-unknown", lambda c: c.token(ver="3.0"), InvalidClaim),
    Case("ver-number", lambda c: c.token(ver=2.0), InvalidClaim),
    # Accepted shapes, so the table also shows what passes.
    Case("good-v2-delegated", lambda c: c.token(), None),
    Case("good-v1-delegated", lambda c: c.token(version="1.0"), None),
    Case("good-v2-app-only", lambda c: c.token(app_only=True, roles=["Orders.Read.All"]), None),
    Case("good-typ-at-jwt", lambda c: c.token(header=c.header(typ="at+jwt")), None),
    Case("good-no-typ", lambda c: c.token(header=c.header(typ=None)), None),
]
