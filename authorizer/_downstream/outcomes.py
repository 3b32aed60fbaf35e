"""What Entra's answer to a token request means for the caller: a token, a challenge, a 503 or our own fault.

MSAL returns Entra's error body as a dict (``error``, ``error_codes``, ``suberror``, ``claims``); each
kind of refusal becomes one exception, and so one answer. What the log gets is codes, never a token.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import (
    DownstreamConsentRequired,
    DownstreamCredentialError,
    DownstreamError,
    DownstreamInteractionRequired,
    DownstreamUnavailable,
)
from .settings import DownstreamSettings

logger = logging.getLogger("authorizer.downstream")

# AADSTS codes, as Entra documents them: the user must act (MFA, CA, enrolment, a fresh sign-in).
INTERACTION_CODES = frozenset({50076, 50079, 50158, 53000, 53001, 53003, 50074, 50173, 50133, 50105})
CONSENT_CODES = frozenset({65001, 65004, 650052, 650057})
# Our credential: a bad secret, an assertion no federated credential matches, an unknown certificate.
CREDENTIAL_CODES = frozenset({7000215, 7000222, 700027, 70021, 700024, 700213, 700016, 7000112})
UNAVAILABLE_CODES = frozenset({90033, 90036, 50196})


def token_of(result: Mapping[str, Any], settings: DownstreamSettings, scopes: Sequence[str], kind: str) -> str:
    """The access token of a successful answer.

    Raises:
        DownstreamError: a subclass saying what the refusal means.
    """
    token = result.get("access_token")
    if isinstance(token, str) and token:
        return token
    raise refusal(result, settings, scopes, kind)


def refusal(
    result: Mapping[str, Any], settings: DownstreamSettings, scopes: Sequence[str], kind: str
) -> DownstreamError:
    """The exception for an error answer; logs one warning with its codes and correlation id."""
    error = str(result.get("error") or "unknown_error")
    codes = {code for code in result.get("error_codes") or () if isinstance(code, int)}
    suberror = result.get("suberror")
    claims = result.get("claims")
    logger.warning(
        "downstream token (%s) for %s refused: %s AADSTS%s correlation_id=%s",
        kind,
        " ".join(scopes),
        error,
        ",".join(str(code) for code in sorted(codes)) or "-",
        _safe(result.get("correlation_id")),
    )
    if isinstance(claims, str) and claims or error == "interaction_required" or codes & INTERACTION_CODES:
        return DownstreamInteractionRequired(claims if isinstance(claims, str) and claims else None)
    if error == "consent_required" or suberror == "consent_required" or codes & CONSENT_CODES:
        return DownstreamConsentRequired(
            f"This API was not granted {' '.join(scopes)} on the downstream API; an administrator of the tenant "
            "grants it (Enterprise applications, this API, Permissions, Grant admin consent)."
        )
    if error in ("temporarily_unavailable", "server_error") or codes & UNAVAILABLE_CODES:
        return unavailable(settings)
    if error in ("invalid_client", "unauthorized_client") or codes & CREDENTIAL_CODES:
        return DownstreamCredentialError(setting_of(settings), f"Entra refused this API's credential ({error})")
    return DownstreamCredentialError(setting_of(settings), f"Entra refused the token request ({error})")


def unavailable(settings: DownstreamSettings) -> DownstreamUnavailable:
    # Within about one deadline another attempt is worth making; never longer than a minute.
    return DownstreamUnavailable(min(60, max(1, math.ceil(settings.timeout_seconds))))


def setting_of(settings: DownstreamSettings) -> str:
    """The setting a refused credential points at."""
    return {
        "managed_identity": "ENTRA_CLIENT_CREDENTIAL",
        "certificate": "ENTRA_CLIENT_CERTIFICATE_PATH" if settings.certificate_path else "ENTRA_CLIENT_CERTIFICATE",
        "secret": "ENTRA_CLIENT_SECRET",
    }[settings.credential]


def _safe(value: object) -> str:
    # A correlation id is a GUID; anything else from the wire is not written.
    text = str(value) if value is not None else "-"
    return text if len(text) <= 64 and all(char.isalnum() or char == "-" for char in text) else "-"
