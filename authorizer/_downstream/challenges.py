"""A downstream API's own claims challenge (CAE, step-up), read from its answer so it can be passed back.

Microsoft's resource APIs answer a token that no longer satisfies them with 401 and
``WWW-Authenticate: Bearer ..., error="insufficient_claims", claims="<base64 JSON>"``. Only the user
can satisfy it: the challenge goes back to the client app, which signs in again asking for the claims.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping

from .._errors import DownstreamInteractionRequired

# A header is the server's text: read only so much of it.
MAX_HEADER_CHARACTERS = 8 * 1024
MAX_CLAIMS_CHARACTERS = 4 * 1024
_PARAMETER = re.compile(r'([A-Za-z_]+)\s*=\s*"((?:[^"\\]|\\.)*)"')


def raise_for_claims_challenge(status_code: int, headers: Mapping[str, str]) -> None:
    """Raise the challenge a downstream API answered with, so that the client app is asked for it.

    Call it with the downstream response's status and headers (``response.headers`` of requests or
    httpx will do). Left uncaught in a protected function, the challenge reaches the client as the
    401 ``insufficient_claims`` that MSAL.js answers (a client without cp1 gets 403), and the tokens kept
    for this caller are dropped, so that the retry asks Entra afresh.

    Raises:
        DownstreamInteractionRequired: a 401 with an ``insufficient_claims`` challenge and its claims.
    """
    if status_code != 401:
        return
    header = _header(headers, "WWW-Authenticate")
    if not header or len(header) > MAX_HEADER_CHARACTERS or not header.lstrip().lower().startswith("bearer"):
        return
    parameters = {name.lower(): value for name, value in _PARAMETER.findall(header)}
    if parameters.get("error") != "insufficient_claims" or "claims" not in parameters:
        return
    claims = _claims(parameters["claims"])
    if claims is not None:
        raise DownstreamInteractionRequired(claims)


def _claims(encoded: str) -> str | None:
    """The claims request as compact JSON, or None when it is not a base64 JSON object."""
    if len(encoded) > MAX_CLAIMS_CHARACTERS:
        return None
    try:
        padded = encoded + "=" * (-len(encoded) % 4)
        value = json.loads(base64.b64decode(padded, altchars=b"-_" if "-" in encoded or "_" in encoded else None))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        return None
    return json.dumps(value, separators=(",", ":")) if isinstance(value, dict) else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        # A plain dict is case-sensitive; the HTTP name is not.
        value = next((text for key, text in headers.items() if key.lower() == name.lower()), None)
    return value
