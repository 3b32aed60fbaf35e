"""RS256 signature checks with cryptography, whose import (about 12 ms) waits for the first key.

Nothing at load needs it: a key exists only once a JWKS has been fetched and parsed, and that
import happens there, in the background prefetch or on the first request.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.hashes import SHA256

_PADDING = PKCS1v15()
_HASH = SHA256()


def verifies(key: RSAPublicKey, signature: bytes, signing_input: bytes) -> bool:
    """Whether ``signature`` is a valid RS256 signature of ``signing_input`` under ``key``."""
    try:
        key.verify(signature, signing_input, _PADDING, _HASH)
    except InvalidSignature:
        return False
    return True
