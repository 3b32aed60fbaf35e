"""From an Authorization header to a validated Principal: the I/O-aware orchestration."""

from __future__ import annotations

from collections.abc import Mapping
from hashlib import sha256
from typing import Any

from .._errors import BadSignature, MalformedToken, MissingCredentials, TokenForAnotherResource, TokenTooLarge
from .._remote.discovery import Authority
from .._remote.refresh import Clock, RefreshingValue
from .._remote.tenants import TenantPolicy
from .._settings.app_settings import AuthSettings
from .._telemetry.signals import RESULT
from .cache import TokenCache, ValidatedToken, entry_size
from .compact import MAX_TOKEN_LENGTH, parse
from .guests import is_guest
from .principal import Principal, check_client
from .validation import (
    Expectations,
    check_claims,
    check_header,
    check_issuer,
    check_key_issuer,
    decode_claims,
    verify_signature,
)


class Trace:
    """What may be logged about one decision: ids only, never the token or its claim set.

    It keeps references; the ids are read only when a log record is actually written. Made on
    every call: a plain class with slots, cheaper to build than a dataclass.
    """

    __slots__ = ("kid", "claims", "started", "span", "metrics")

    def __init__(
        self, started: float = 0.0, *, kid: str | None = None, claims: Mapping[str, Any] | None = None
    ) -> None:
        self.kid = kid
        # Claims whose signature has been verified (or those of a cached caller), once known.
        self.claims = claims
        # When the decision began (perf_counter); its span when an SDK records spans, and the
        # instruments (a Signals) when one records metrics: looked up once per decision.
        self.started = started
        self.span: Any = None
        self.metrics: Any = None

    def ids(self) -> tuple[str | None, str | None, str | None]:
        """tid, oid and the client app id, once the token got past its signature check."""
        claims = self.claims
        if claims is None:
            return None, None, None
        client = _text(claims.get("azp")) or _text(claims.get("appid"))
        return _text(claims.get("tid")), _text(claims.get("oid")), client


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
    # The common spelling, "Bearer " and the token, takes no further work. Anything else
    # inside the token (a space, a second word) is refused by parsing, as it is below.
    if authorization.startswith("Bearer "):
        token = authorization[7:]
        if token and not token[0].isspace() and not token[-1].isspace():
            return token
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
        self.cache = TokenCache(settings.token_cache_entries, settings.token_cache_max_bytes)
        self._clock = clock
        self._expectations = Expectations(settings.audiences, settings.clock_skew_seconds, settings.accepted_versions)
        self._external_id = settings.tenant_type == "external"
        self._allowed_clients = settings.allowed_client_apps

    def authenticate(self, authorization: str | None, *, allow_io: bool, trace: Trace) -> Principal:
        """Return the caller of a request that carries a valid token from an allowed tenant.

        Raises:
            AuthError: a subclass naming the refusal.
            WouldBlock: ``allow_io`` is False and the answer needs I/O.
        """
        if authorization is None:
            raise MissingCredentials()
        # Before any hashing: a megabyte of header costs no more than its length.
        if len(authorization) > MAX_TOKEN_LENGTH + 64:
            raise TokenTooLarge()
        now = self._clock()
        # The cache key: SHA-256 of the header as presented, scheme and token, so that a repeat is
        # found before the header is split. Strict UTF-8 is the fast encoder; what it cannot encode
        # (a lone surrogate) is no token.
        try:
            digest = sha256(authorization.encode()).digest() if self.cache.enabled else b""
        except UnicodeEncodeError:
            raise MalformedToken() from None
        verified = self.cache.get(digest, now) if digest else None
        if verified is not None:
            verified = self._still_valid(digest, verified, allow_io)
        fresh = verified is None
        # The instruments, when the decision's caller found an SDK recording metrics.
        metrics = trace.metrics
        if digest and metrics is not None:
            metrics.token_cache_lookups.add(1, _MISS if fresh else _HIT)
        if verified is None:
            verified = self._verify(bearer_token(authorization), now, allow_io, trace)
        else:
            trace.kid, trace.claims = verified.kid, verified.principal.claims
        # The tenant list is not part of a token's verification: checked on every presentation.
        self.tenants.check(verified.principal.tid, allow_io=allow_io)
        if self._allowed_clients:
            # The app-wide list of client apps (ENTRA_ALLOWED_CLIENT_APPS), for every caller kind.
            check_client(verified.principal, self._allowed_clients, app_wide=True)
        # Only admitted tokens are kept: a stream of authentic tokens of a refused tenant cannot
        # push the callers we serve out of the cache.
        if fresh and digest:
            self.cache.put(digest, verified)
        return verified.principal

    def _still_valid(self, digest: bytes, cached: ValidatedToken, allow_io: bool) -> ValidatedToken | None:
        """A cached outcome of full validation, while everything it was derived from still holds.

        The cache has checked the token's time window; the key and the issuer templates are checked here.
        """
        if self.authority.clock() < cached.sources_fresh_until:
            for value, generation in cached.derived_from:
                if value.generation != generation:
                    break
            else:
                return cached
        return self._rederived(digest, cached, allow_io)

    def _rederived(self, digest: bytes, entry: ValidatedToken, allow_io: bool) -> ValidatedToken | None:
        """The entry again, if validating the token now would read the same key and issuer templates.

        These, the token, the settings and the time are all that ``_verify`` reads, so an entry that
        passes here is what ``_verify`` would return: the cache is not a second validator. A value
        refreshed or gone stale meanwhile is read again (a stale one starts its background refresh),
        and the entry records the generations read, so that its next repeat needs no lookup.
        """
        authority = self.authority
        sources: list[tuple[RefreshingValue[Any], int]] = [(authority.key_set, authority.key_set.generation)]
        if authority.keys.current(allow_io=allow_io).get(entry.kid) is not entry.key:
            self.cache.discard(digest)
            return None
        for version, template in entry.issuer_templates:
            metadata = authority.metadata[version]
            sources.append((metadata, metadata.generation))
            if authority.issuer_template(version, allow_io=allow_io) != template:
                self.cache.discard(digest)
                return None
        renewed = entry._replace(derived_from=tuple(sources), sources_fresh_until=_fresh_until(sources))
        self.cache.put(digest, renewed)
        return renewed

    def _verify(self, token: str, now: float, allow_io: bool, trace: Trace) -> ValidatedToken:
        jws = parse(token)
        trace.kid = kid = check_header(jws)
        authority = self.authority
        # Each value's generation is read before the value: the cache's proof that nothing changed.
        sources: list[tuple[RefreshingValue[Any], int]] = [(authority.key_set, authority.key_set.generation)]
        key = authority.keys.key_for(kid, allow_io=allow_io)
        try:
            verify_signature(jws, key.public_key)
        except BadSignature:
            # Graph tokens carry a nonce header and verify for no one but Graph: say what went wrong.
            if "nonce" in jws.header:
                raise TokenForAnotherResource() from None
            raise
        # Only now, with the signature verified, is any claim read.
        claims = decode_claims(jws)
        trace.claims = claims
        facts = check_claims(claims, self._expectations, now)
        # Every issuer template read is recorded: the cache re-reads each before serving the outcome.
        templates: dict[str, str] = {}

        def template(version: str) -> str:
            if version not in templates:
                metadata = authority.metadata[version]
                sources.append((metadata, metadata.generation))
                templates[version] = authority.issuer_template(version, allow_io=allow_io)
            return templates[version]

        check_issuer(claims, facts, template(facts.version))
        if key.issuer is not None:
            # A v1 token's key is judged against the v2 issuer.
            check_key_issuer(claims, facts, key.issuer, template("2.0"))
        principal = Principal.from_claims(claims)
        if principal.is_delegated and is_guest(claims, facts, template, external_id=self._external_id):
            principal = principal._replace(is_guest=True)
        return ValidatedToken(
            principal,
            kid,
            key,
            tuple(templates.items()),
            facts.valid_from,
            facts.valid_until,
            entry_size(jws.payload),
            tuple(sources),
            _fresh_until(sources),
        )


_HIT = {RESULT: "hit"}
_MISS = {RESULT: "miss"}


def _fresh_until(sources: list[tuple[RefreshingValue[Any], int]]) -> float:
    # Read after the values: a freshness newer than a value read goes with a newer generation.
    return min(value.fresh_until for value, _ in sources)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
