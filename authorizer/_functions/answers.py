"""The one place where a refusal becomes an HTTP answer (RFC 6750)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import azure.functions as func

from .._errors import (
    AuthContextRequired,
    AuthError,
    DownstreamCredentialError,
    DownstreamInteractionRequired,
    InsufficientScope,
    InvalidAudience,
    InvalidToken,
    MissingCredentials,
    NotGrantable,
    RateLimited,
    TemporarilyUnavailable,
    TenantNotAllowed,
    UnacceptedTokenVersion,
)
from .._settings.app_settings import AuthSettings

METADATA_PATH = "/.well-known/oauth-protected-resource"
# What a browser app may read of our answers, once CORS exposes it.
EXPOSED_NAMES = ("WWW-Authenticate", "Retry-After", "RateLimit", "RateLimit-Policy")
EXPOSED = ", ".join(EXPOSED_NAMES)
# On every answer the authorizer writes itself (never on what a function returns): a refusal must
# never be replayed from a shared cache to another caller, and a JSON body never sniffed as a page.
SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True)
class Answer:
    """Status, error code, a fixed description and the headers a client acts on."""

    status: int
    error: str
    description: str
    challenge: str | None = None
    retry_after: int | None = None
    # RateLimit and RateLimit-Policy, on a 429.
    fields: tuple[tuple[str, str], ...] = ()

    @property
    def headers(self) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            **SECURITY_HEADERS,
            # Browser apps can read a challenge only when CORS exposes it.
            "Access-Control-Expose-Headers": EXPOSED,
        }
        if self.challenge is not None:
            headers["WWW-Authenticate"] = self.challenge
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        headers.update(self.fields)
        return headers

    @property
    def body(self) -> bytes:
        return json.dumps({"error": self.error, "error_description": self.description}).encode()


def to_http_response(answer: Answer) -> func.HttpResponse:
    return func.HttpResponse(body=answer.body, status_code=answer.status, headers=answer.headers)


SERVER_ERROR = Answer(500, "server_error", "The request could not be processed.")


def answer_for(
    error: AuthError,
    settings: AuthSettings,
    scopes: tuple[str, ...] = (),
    *,
    metadata_served: bool = False,
    authorization_uri: str | None = None,
    client_can_step_up: bool = False,
) -> Answer:
    """Map a refusal to its answer; every AuthError branch lands on exactly one status.

    ``scopes`` are the function's delegated scopes that would do, used in hints; ``metadata_served``
    says whether the app serves its RFC 9728 document; ``authorization_uri`` is the authority's
    authorize endpoint (from discovery), named in a claims challenge; ``client_can_step_up`` says the
    calling client declared cp1 (for a downstream API's challenge, which carries no caller of its own).
    """
    realm = [_param("realm", settings.app_id_uri)]
    # RFC 9728: where a generic OAuth client learns how to get a token for this API; named only
    # when the document is really served there, never a link to a missing page.
    if metadata_served and settings.resource_url is not None:
        realm.append(_param("resource_metadata", settings.resource_url + METADATA_PATH))
    if isinstance(error, MissingCredentials):
        # RFC 6750 section 3: no error code when the request carried no credentials.
        return Answer(401, "missing_token", error.description, challenge="Bearer " + ", ".join(realm))
    if isinstance(error, InvalidToken):
        description = _hint(error, settings, scopes)
        params = [*realm, _param("error", "invalid_token"), _param("error_description", description)]
        return Answer(401, "invalid_token", description, challenge="Bearer " + ", ".join(params))
    if isinstance(error, InsufficientScope | NotGrantable):
        params = [*realm[:1], _param("error", "insufficient_scope"), _param("error_description", error.description)]
        # Only scopes the token lacks, and only for a scope: what an administrator grants is no scope to request.
        if isinstance(error, InsufficientScope) and error.scopes:
            params.append(_param("scope", " ".join(settings.full_scope(scope) for scope in error.scopes)))
        code = error.error if isinstance(error, NotGrantable) else "insufficient_scope"
        return Answer(403, code, error.description, challenge="Bearer " + ", ".join(params))
    if isinstance(error, AuthContextRequired):
        return _step_up(error, realm[0], authorization_uri)
    if isinstance(error, DownstreamInteractionRequired):
        return _downstream_step_up(error, realm[0], authorization_uri, client_can_step_up)
    if isinstance(error, DownstreamCredentialError):
        # Our own credential is refused: nothing the caller can do, and nothing to tell it.
        return SERVER_ERROR
    if isinstance(error, TenantNotAllowed):
        # Not 401: signing in again cannot fix a policy refusal, and a 401 sends MSAL.js into a login loop.
        return Answer(403, "tenant_not_allowed", error.description)
    if isinstance(error, RateLimited):
        fields = tuple(error.fields.items())
        return Answer(429, "rate_limited", error.description, retry_after=error.retry_after, fields=fields)
    if isinstance(error, TemporarilyUnavailable):
        return Answer(503, "temporarily_unavailable", error.description, retry_after=error.retry_after)
    return Answer(403, "access_denied", error.description)


def _step_up(error: AuthContextRequired, realm: str, authorization_uri: str | None) -> Answer:
    """Microsoft's claims challenge for a client that can answer it (cp1); 403 for any other."""
    if not error.client_can_step_up:
        # A 401 it cannot act on would only send it round again: say what is needed instead.
        params = [realm, _param("error", "insufficient_scope"), _param("error_description", error.description)]
        return Answer(403, "auth_context_required", error.description, challenge="Bearer " + ", ".join(params))
    request = {"access_token": {"acrs": {"essential": True, "value": error.context}}}
    claims = base64.b64encode(json.dumps(request, separators=(",", ":")).encode()).decode()
    params = [realm]
    if authorization_uri is not None:
        params.append(_param("authorization_uri", authorization_uri))
    params += [_param("error", "insufficient_claims"), _param("claims", claims)]
    return Answer(401, "insufficient_claims", error.description, challenge="Bearer " + ", ".join(params))


def _downstream_step_up(
    error: DownstreamInteractionRequired, realm: str, authorization_uri: str | None, client_can_step_up: bool
) -> Answer:
    """A downstream resource's challenge, passed back as the claims challenge MSAL.js acts on (cp1 clients)."""
    if error.claims is None or not client_can_step_up:
        params = [realm, _param("error", "insufficient_scope"), _param("error_description", error.description)]
        return Answer(403, "interaction_required", error.description, challenge="Bearer " + ", ".join(params))
    claims = base64.b64encode(error.claims.encode()).decode()
    params = [realm]
    if authorization_uri is not None:
        params.append(_param("authorization_uri", authorization_uri))
    params += [_param("error", "insufficient_claims"), _param("claims", claims)]
    return Answer(401, "insufficient_claims", error.description, challenge="Bearer " + ", ".join(params))


def _hint(error: InvalidToken, settings: AuthSettings, scopes: tuple[str, ...]) -> str:
    """A fixed sentence, completed only from our own settings and code, never from the token."""
    if isinstance(error, InvalidAudience):
        wanted = settings.full_scope(scopes[0]) if scopes else settings.full_scope(".default")
        return f"{error.description.rstrip('.')}; request a token for {wanted}."
    if isinstance(error, UnacceptedTokenVersion):
        version = "2" if "2.0" in settings.accepted_versions else "1"
        return (
            f"This API accepts v{version}.0 access tokens only; set requestedAccessTokenVersion "
            f"to {version} in the manifest of the API's app registration."
        )
    return error.description


def _param(name: str, value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{name}="{escaped}"'
