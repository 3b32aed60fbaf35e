"""Signing keys: JWKS parsing (pure) and the lookup by kid over a refreshing key set."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import KeysUnavailable, UnknownSigningKey
from .fetch import FetchError
from .refresh import RefreshingValue, Unavailable

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

MIN_RSA_BITS = 2048

KeySet = Mapping[str, "RSAPublicKey"]


def parse_jwks(document: Mapping[str, Any]) -> dict[str, RSAPublicKey]:
    """Keep the RSA signature-verification keys of a JWKS, by kid.

    Keys of another type or use, with private parts, shorter than 2048 bits, or whose
    kid appears twice are left out.

    Raises:
        FetchError: the document has no usable key at all (so the last good set stays).
    """
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise FetchError("JWKS has no keys array")
    found: dict[str, RSAPublicKey] = {}
    ambiguous: set[str] = set()
    for entry in entries:
        key = _signing_key(entry)
        if key is None:
            continue
        kid = entry["kid"]
        # Two keys under one kid: we cannot know which one the issuer means, so trust neither.
        if kid in found or kid in ambiguous:
            found.pop(kid, None)
            ambiguous.add(kid)
            continue
        found[kid] = key
    if not found:
        raise FetchError("JWKS holds no usable RSA signing key")
    return found


def _signing_key(entry: object) -> RSAPublicKey | None:
    if not isinstance(entry, dict):
        return None
    kid = entry.get("kid")
    if not isinstance(kid, str) or not kid:
        return None
    if entry.get("kty") != "RSA" or entry.get("use", "sig") != "sig":
        return None
    if entry.get("alg", "RS256") != "RS256":
        return None
    operations = entry.get("key_ops")
    if operations is not None and (not isinstance(operations, list) or "verify" not in operations):
        return None
    # A published private key is a leak, not a verification key.
    if "d" in entry:
        return None
    # PyJWT pulls in cryptography.x509 (~30 ms): paid when a JWKS arrives, not at import.
    from jwt.algorithms import RSAAlgorithm
    from jwt.exceptions import InvalidKeyError

    from .rs256 import is_rsa_public_key

    try:
        key = RSAAlgorithm.from_jwk(entry)
    except (InvalidKeyError, ValueError, TypeError, KeyError):
        return None
    if not is_rsa_public_key(key) or key.key_size < MIN_RSA_BITS:
        return None
    return key


class SigningKeys:
    """Finds the key for a kid, refreshing inline (within the cooldown) on an unknown one."""

    def __init__(self, key_set: RefreshingValue[dict[str, RSAPublicKey]]) -> None:
        self.key_set = key_set

    def current(self, *, allow_io: bool) -> KeySet:
        """The key set in use now (refreshing it in the background when stale).

        Raises:
            KeysUnavailable: no keys can be had.
            WouldBlock: when ``allow_io`` is False and I/O is needed.
        """
        try:
            return self.key_set.get(allow_io=allow_io)
        except Unavailable as error:
            raise KeysUnavailable(math.ceil(error.retry_after)) from None

    def key_for(self, kid: str, *, allow_io: bool) -> RSAPublicKey:
        """Return the verification key named by ``kid``.

        Raises:
            UnknownSigningKey: no such key, even after a permitted refresh.
            KeysUnavailable: no keys can be had, or a rollover cannot be ruled out
                because the last refresh failed.
            WouldBlock: when ``allow_io`` is False and I/O is needed.
        """
        key = self.current(allow_io=allow_io).get(kid)
        if key is not None:
            return key
        # A legitimate rollover: the first token signed with the new key succeeds.
        self.key_set.refresh(allow_io=allow_io)
        current = self.key_set.value or {}
        key = current.get(kid)
        if key is not None:
            return key
        if self.key_set.last_attempt_failed:
            raise KeysUnavailable()
        raise UnknownSigningKey()
