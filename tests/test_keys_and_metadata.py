"""What a JWKS and a metadata document may contribute: RSA signing keys and https locations only."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from authorizer._remote.fetch import FetchError, parse_json_object
from authorizer._remote.jwks import parse_jwks
from authorizer._remote.metadata import metadata_url, parse_metadata
from tests.support.tokens import b64url_int, make_key

GOOD = make_key(index=0, kid="good")


def rsa_jwk(**changes: Any) -> dict[str, Any]:
    jwk = dict(GOOD.public_jwk)
    for name, value in changes.items():
        if value is None:
            jwk.pop(name, None)
        else:
            jwk[name] = value
    return jwk


def ec_jwk() -> dict[str, Any]:
    numbers = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "kid": "ec", "x": b64url_int(numbers.x), "y": b64url_int(numbers.y)}


def test_only_rsa_signature_keys_are_kept() -> None:
    small = make_key(index=3, kid="small", bits=1024)
    private_numbers = GOOD.private_key.private_numbers()
    document = {
        "keys": [
            rsa_jwk(),
            ec_jwk(),
            rsa_jwk(kid="enc", use="enc"),
            rsa_jwk(kid="rs512", alg="RS512"),
            rsa_jwk(kid="no-verify", key_ops=["encrypt"]),
            rsa_jwk(kid="private", d=b64url_int(private_numbers.d)),
            small.public_jwk,
            rsa_jwk(kid=""),
            rsa_jwk(kid="broken", n="!!!"),
            "not a key",
        ]
    }
    assert list(parse_jwks(document)) == ["good"]


def test_explicit_sig_use_rs256_alg_and_verify_op_are_accepted() -> None:
    keys = parse_jwks({"keys": [rsa_jwk(use="sig", alg="RS256", key_ops=["verify"])]})
    assert list(keys) == ["good"]


def test_a_kid_listed_twice_is_trusted_under_neither_entry() -> None:
    other = make_key(index=1, kid="good")
    keys = parse_jwks({"keys": [rsa_jwk(), other.public_jwk, make_key(index=2, kid="fine").public_jwk]})
    assert list(keys) == ["fine"]


@pytest.mark.parametrize(
    "document",
    [{}, {"keys": "x"}, {"keys": []}, {"keys": [ec_jwk()]}],
    ids=["no-keys", "keys-not-list", "empty", "no-rsa"],
)
def test_a_jwks_without_any_usable_key_is_a_failed_fetch(document: dict[str, Any]) -> None:
    with pytest.raises(FetchError):
        parse_jwks(document)


def test_metadata_locations_follow_entra_layout() -> None:
    assert metadata_url("https://login.microsoftonline.us", "organizations", "2.0") == (
        "https://login.microsoftonline.us/organizations/v2.0/.well-known/openid-configuration"
    )
    assert metadata_url("https://contoso.ciamlogin.com", "t", "1.0") == (
        "https://contoso.ciamlogin.com/t/.well-known/openid-configuration"
    )


@pytest.mark.parametrize(
    "document",
    [
        {"jwks_uri": "https://login.example/keys"},
        {"issuer": "", "jwks_uri": "https://login.example/keys"},
        {"issuer": 7, "jwks_uri": "https://login.example/keys"},
        {"issuer": "https://login.example/t/v2.0"},
        {"issuer": "https://login.example/t/v2.0", "jwks_uri": "http://login.example/keys"},
        {"issuer": "https://login.example/t/v2.0", "jwks_uri": "file:///etc/keys"},
    ],
    ids=["no-issuer", "empty-issuer", "issuer-number", "no-jwks-uri", "http-jwks-uri", "file-jwks-uri"],
)
def test_metadata_missing_fields_or_an_insecure_jwks_uri_is_a_failed_fetch(document: dict[str, Any]) -> None:
    with pytest.raises(FetchError):
        parse_metadata(document, "https://login.example/t/v2.0/.well-known/openid-configuration")


def test_plain_http_jwks_uri_is_accepted_only_on_loopback() -> None:
    metadata = parse_metadata({"issuer": "x", "jwks_uri": "http://127.0.0.1:8000/keys"}, "u")
    assert metadata.jwks_uri == "http://127.0.0.1:8000/keys"


@pytest.mark.parametrize("body", [b"\xff\xfe", b"[1]", b"nope", b'"text"'])
def test_a_response_must_be_a_utf8_json_object(body: bytes) -> None:
    with pytest.raises(FetchError):
        parse_json_object(body, "https://login.example/doc")
