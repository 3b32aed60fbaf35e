"""Minting real RS256 tokens, including deliberately broken ones, for tests."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_int(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey = field(repr=False)

    @property
    def public_jwk(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": b64url_int(numbers.n),
            "e": b64url_int(numbers.e),
        }

    @property
    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, signing_input: bytes) -> bytes:
        return self.private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())


@cache
def _pooled_private_key(index: int, bits: int) -> rsa.RSAPrivateKey:
    # Key generation costs ~50 ms; a session-wide pool keeps the suite quick.
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def make_key(index: int | None = None, kid: str | None = None, bits: int = 2048) -> SigningKey:
    """A signing key; with ``index`` the private key comes from a shared pool."""
    private = _pooled_private_key(index, bits) if index is not None else rsa.generate_private_key(65537, bits)
    return SigningKey(kid=kid or f"kid-{uuid.uuid4().hex[:12]}", private_key=private)


def encode_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def compact(header: dict[str, Any] | bytes, payload: dict[str, Any] | bytes, key: SigningKey | None) -> str:
    """Assemble a compact JWS from raw parts; ``key=None`` leaves the signature empty."""
    header_bytes = header if isinstance(header, bytes) else encode_json(header)
    payload_bytes = payload if isinstance(payload, bytes) else encode_json(payload)
    signing_input = f"{b64url(header_bytes)}.{b64url(payload_bytes)}".encode("ascii")
    signature = key.sign(signing_input) if key is not None else b""
    return f"{signing_input.decode('ascii')}.{b64url(signature)}"
