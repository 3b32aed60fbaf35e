"""From an Authorization header to a validated Principal: the I/O-aware orchestration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .compact import MAX_TOKEN_LENGTH, parse
from .discovery import Authority
from .errors import MalformedToken, MissingCredentials, TokenTooLarge
from .principal import Principal
from .refresh import Clock
from .settings import AuthSettings
from .tenants import TenantPolicy
from .validation import Expectations, check_claims, check_header, check_issuer, decode_claims, verify_signature


@dataclass(slots=True)
class Trace:
    """What may be logged about one decision: ids only, never the token or its claim set."""

    kid: str | None = None
    tid: str | None = None
    oid: str | None = None
    client_app_id: str | None = None

    def note_claims(self, claims: Mapping[str, Any]) -> None:
        """Record the ids of a token whose signature has been verified."""
        self.tid = _text(claims.get("tid"))
        self.oid = _text(claims.get("oid"))
        self.client_app_id = _text(claims.get("azp")) or _text(claims.get("appid"))


def bearer_token(authorization: str | None) -> str:
    """Extract the token of an RFC 6750 ``Authorization: Bearer`` header.

    Raises:
        MissingCredentials: no header, another scheme, or an empty token.
        TokenTooLarge: an oversized header, refused before it is examined.
        MalformedToken: more than one token-like word after the scheme.
    """
    if authorization is None:
        raise MissingCredentials()
    if len(authorization) > MAX_TOKEN_LENGTH + 64:
        raise TokenTooLarge()
    scheme, _, rest = authorization.strip().partition(" ")
    # The scheme is case-insensitive (RFC 7235 section 2.1).
    if scheme.lower() != "bearer":
        raise MissingCredentials()
    token = rest.strip(" ")
    if not token:
        raise MissingCredentials()
    if " " in token:
        raise MalformedToken()
    return token


class Authenticator:
    """Validates bearer tokens against one authority and one tenant policy."""

    def __init__(
        self,
        settings: AuthSettings,
        authority: Authority,
        tenants: TenantPolicy,
        clock: Clock,
    ) -> None:
        self.authority = authority
        self.tenants = tenants
        self._clock = clock
        self._expectations = Expectations(audiences=settings.audiences, clock_skew_seconds=settings.clock_skew_seconds)

    def authenticate(self, authorization: str | None, *, allow_io: bool, trace: Trace) -> Principal:
        """Return the caller of a request that carries a valid token from an allowed tenant.

        Raises:
            AuthError: a subclass naming the refusal.
            WouldBlock: ``allow_io`` is False and the answer needs I/O.
        """
        token = bearer_token(authorization)
        jws = parse(token)
        trace.kid = check_header(jws)
        key = self.authority.keys.key_for(trace.kid, allow_io=allow_io)
        verify_signature(jws, key)
        # Only now, with the signature verified, is any claim read.
        claims = decode_claims(jws)
        trace.note_claims(claims)
        facts = check_claims(claims, self._expectations, self._clock())
        check_issuer(claims, facts, self.authority.issuer_template(facts.version, allow_io=allow_io))
        principal = Principal.from_claims(claims)
        self.tenants.check(facts.tenant_id, allow_io=allow_io)
        return principal


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
