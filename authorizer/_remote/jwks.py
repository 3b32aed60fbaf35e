"""Signing keys: JWKS parsing (pure) and the lookup by kid over a refreshing key set."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from .._errors import KeysUnavailable, UnknownSigningKey
from .fetch import FetchError
from .refresh import Forced, RefreshingValue, Unavailable

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

MIN_RSA_BITS = 2048
# A refresh under way ends within the fetch deadline: a client may try again soon.
PENDING_RETRY_AFTER = 1


class VerificationKey(NamedTuple):
    """One signing key of the JWKS, and the issuer the JWKS names for it (Entra's keys carry one)."""

    public_key: RSAPublicKey
    # With {tenantid} for multi-tenant keys; None when the JWKS names no issuer.
    issuer: str | None


KeySet = Mapping[str, VerificationKey]


def parse_jwks(
    document: Mapping[str, Any],
    previous: KeySet | None = None,
    issuer_template: Callable[[str], str] | None = None,
) -> dict[str, VerificationKey]:
    """Keep the RSA signature-verification keys of a JWKS, by kid.

    Keys of another type or use, with private parts, shorter than 2048 bits, or whose
    kid appears twice are left out. A key identical to one in ``previous`` (same kid, key
    material and issuer) is that same object, so that what was verified with it stays cached.
    ``issuer_template`` turns a key's issuer into the template it is compared with.

    Raises:
        FetchError: the document has no usable key at all (so the last good set stays).
    """
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise FetchError("JWKS has no keys array")
    found: dict[str, VerificationKey] = {}
    ambiguous: set[str] = set()
    for entry in entries:
        public_key = _signing_key(entry)
        if public_key is None:
            continue
        kid = entry["kid"]
        issuer = entry.get("issuer")
        if not isinstance(issuer, str) or not issuer:
            issuer = None
        elif issuer_template is not None:
            issuer = issuer_template(issuer)
        key = VerificationKey(public_key, issuer)
        # Two keys under one kid: we cannot know which one the issuer means, so trust neither.
        if kid in found or kid in ambiguous:
            found.pop(kid, None)
            ambiguous.add(kid)
            continue
        found[kid] = _same_as_before(kid, key, previous)
    if not found:
        raise FetchError("JWKS holds no usable RSA signing key")
    return found


def _same_as_before(kid: str, key: VerificationKey, previous: KeySet | None) -> VerificationKey:
    # Compared once per refresh, so that the per-request check can stay an identity test.
    known = previous.get(kid) if previous is not None else None
    if (
        known is not None
        and known.issuer == key.issuer
        and known.public_key.public_numbers() == key.public_key.public_numbers()
    ):
        return known
    return key


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
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
    from jwt.algorithms import RSAAlgorithm
    from jwt.exceptions import InvalidKeyError

    try:
        key = RSAAlgorithm.from_jwk(entry)
    except (InvalidKeyError, ValueError, TypeError, KeyError):
        return None
    if not isinstance(key, RSAPublicKey) or key.key_size < MIN_RSA_BITS:
        return None
    return key


class SigningKeys:
    """Finds the key for a kid, refreshing inline (within the cooldown) on an unknown one."""

    def __init__(self, key_set: RefreshingValue[dict[str, VerificationKey]]) -> None:
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
            raise KeysUnavailable(error.retry_after) from None

    def key_for(self, kid: str, *, allow_io: bool) -> VerificationKey:
        """Return the verification key named by ``kid``.

        Raises:
            UnknownSigningKey: no such key, even after a permitted refresh.
            KeysUnavailable: no keys can be had, or a rollover cannot be ruled out because
                a refresh is under way or the last one failed.
            WouldBlock: when ``allow_io`` is False and I/O is needed.
        """
        known = self.key_set.value
        if known is None or kid in known:
            key = self.current(allow_io=allow_io).get(kid)
            if key is not None:
                return key
        # A legitimate rollover: the first token signed with the new key succeeds. Asked for before a
        # stale set starts its background refresh, so that the caller who fetches is the one who waits.
        forced = self.key_set.refresh(allow_io=allow_io)
        if forced is not Forced.FETCHED:
            self.current(allow_io=allow_io)
        key = (self.key_set.value or {}).get(kid)
        if key is not None:
            return key
        # Not known yet (a fetch under way) or not knowable (the last one failed): it may be a rollover.
        if forced is Forced.PENDING or self.key_set.refreshing:
            raise KeysUnavailable(PENDING_RETRY_AFTER)
        if self.key_set.last_attempt_failed:
            raise KeysUnavailable(self.key_set.retry_after())
        raise UnknownSigningKey()
