"""Tokens already validated: a repeat presentation skips parsing and the RSA verify.

Keyed by the SHA-256 digest of the whole Authorization header (the cache never holds a token), bounded in
entries and estimated bytes, and never serving a token outside the window in which full validation
would accept it. An entry records what its verification depended on besides the token and the time
(the key and every issuer template read), so the caller can tell whether it still holds; the tenant
list and the function's policy are not part of it and are checked on every presentation.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, NamedTuple

from .principal import Principal

if TYPE_CHECKING:
    from .._remote.jwks import VerificationKey
    from .._remote.refresh import RefreshingValue

# A claim set costs its JSON several times over once it is Python objects.
_BYTES_PER_PAYLOAD_CHARACTER = 4
_ENTRY_OVERHEAD_BYTES = 600


class ValidatedToken(NamedTuple):
    """The outcome of full validation, with the inputs it was derived from."""

    principal: Principal
    kid: str
    # The JWKS entry that verified the signature (and whose issuer, if any, was checked).
    key: VerificationKey
    # Every metadata issuer (version, template) full validation read: the token's own version's,
    # the v2 one a key's issuer was judged against, the other version's that told a guest.
    issuer_templates: tuple[tuple[str, str], ...]
    # The instants between which full validation, with the skew, would accept the token.
    valid_from: float
    valid_until: float
    size: int
    # Each fetched value read (the key set, each metadata version) and its generation before the read,
    # and when the first of them goes stale (on the authority's clock): while every one is unchanged
    # and fresh, nothing the outcome was derived from can have changed.
    derived_from: tuple[tuple[RefreshingValue[Any], int], ...] = ()
    sources_fresh_until: float = -math.inf


class TokenCache:
    """A bounded map from token digest to its validation result; safe under threads."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.enabled = max_entries > 0
        # Oldest first; OrderedDict drops its oldest entry in O(1), where a dict's first key
        # costs a scan over every slot freed before it.
        self._entries: OrderedDict[bytes, ValidatedToken] = OrderedDict()
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def estimated_bytes(self) -> int:
        return self._bytes

    def get(self, digest: bytes, now: float) -> ValidatedToken | None:
        """The entry for ``digest`` if it is still inside its validity window (no lock taken)."""
        entry = self._entries.get(digest)
        if entry is None:
            return None
        # Never past exp (+ skew), never before nbf / iat (- skew), even if the clock moved back.
        if not entry.valid_from <= now < entry.valid_until:
            self.discard(digest)
            return None
        return entry

    def put(self, digest: bytes, entry: ValidatedToken) -> None:
        if not self.enabled or entry.size > self._max_bytes:
            return
        with self._lock:
            previous = self._entries.pop(digest, None)
            if previous is not None:
                self._bytes -= previous.size
            self._entries[digest] = entry
            self._bytes += entry.size
            while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
                self._bytes -= self._entries.popitem(last=False)[1].size

    def discard(self, digest: bytes) -> None:
        with self._lock:
            entry = self._entries.pop(digest, None)
            if entry is not None:
                self._bytes -= entry.size


def entry_size(payload: bytes) -> int:
    return len(payload) * _BYTES_PER_PAYLOAD_CHARACTER + _ENTRY_OVERHEAD_BYTES
