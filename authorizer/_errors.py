"""One error root for every authentication and authorization outcome.

Each branch maps to exactly one HTTP answer, chosen in ``authorizer.answers``.
Descriptions are fixed strings: they never carry a token, and carry no claim value but one, the
calling client app's id in ``client_not_allowed`` (a GUID, checked before it is written).
"""

from __future__ import annotations

import re

# A client id as Entra writes one; anything else is not echoed.
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class ConfigurationError(ValueError):
    """A setting is missing or invalid; raised at load, never per request.

    ``setting`` and ``problem`` name the first one found; ``problems`` holds every one found
    (a user fixes them all in one go, not one per restart).
    """

    def __init__(self, setting: str, problem: str, others: tuple[ConfigurationError, ...] = ()) -> None:
        self.setting = setting
        self.problem = problem
        self.problems: tuple[ConfigurationError, ...] = (self, *others)
        super().__init__("; ".join(f"{error.setting}: {error.problem}" for error in self.problems))

    @classmethod
    def all_of(cls, errors: list[ConfigurationError]) -> ConfigurationError:
        """One error standing for several, raised as the first one."""
        first, *others = errors
        return first if not others else cls(first.setting, first.problem, tuple(others))


class AuthError(Exception):
    """Root of every refusal the authorizer can produce."""

    description = "The request could not be authorized."

    def __init__(self, description: str | None = None) -> None:
        super().__init__(description or self.description)
        if description:
            self.description = description


class MissingCredentials(AuthError):
    """No bearer token: no header, another scheme, or an empty token (401, no error code)."""

    description = "A bearer token is required."


class InvalidToken(AuthError):
    """The token is not an authentic, current token for this API (401 invalid_token)."""

    description = "The access token is invalid."


class MalformedToken(InvalidToken):
    description = "The access token is not a well-formed compact JWS."


class TokenTooLarge(MalformedToken):
    description = "The access token is too large."


class UnsupportedAlgorithm(InvalidToken):
    description = "The access token must be signed with RS256."


class UnsupportedHeader(InvalidToken):
    description = "The access token header carries an unsupported parameter."


class UnknownSigningKey(InvalidToken):
    description = "The access token was signed with an unknown key."


class BadSignature(InvalidToken):
    description = "The access token signature is invalid."


class TokenExpired(InvalidToken):
    description = "The access token has expired."


class TokenNotYetValid(InvalidToken):
    description = "The access token is not valid yet."


class InvalidAudience(InvalidToken):
    description = "The access token was not issued for this API."


class TokenForAnotherResource(InvalidAudience):
    """A token for Microsoft Graph (or another API) sent to this one: the commonest mistake."""

    description = "The access token was issued for another resource, not for this API."


class UnacceptedTokenVersion(InvalidToken):
    """A v1 token where only v2 is accepted (or the reverse): the registration's setting."""

    description = "The access token version is not accepted by this API."


class InvalidIssuer(InvalidToken):
    description = "The access token issuer is not accepted."


class InvalidClaim(InvalidToken):
    description = "The access token carries a missing or malformed claim."


class Forbidden(AuthError):
    """The caller is authenticated but may not do this (403)."""

    description = "The caller is not allowed to perform this operation."


class InsufficientScope(Forbidden):
    """Delegated scopes the token does not carry (403 insufficient_scope, with the scopes that would do)."""

    description = "The access token lacks the permission this operation requires."

    def __init__(self, scopes: tuple[str, ...] = (), description: str | None = None) -> None:
        super().__init__(description)
        self.scopes = scopes


class NotGrantable(Forbidden):
    """Something only an administrator can grant, which no new token request can fetch (403, no scope).

    ``error`` is the body's error code; the description says what is missing and who grants it.
    """

    error = "access_denied"


class RoleRequired(NotGrantable):
    error = "role_required"


class PermissionRequired(NotGrantable):
    error = "permission_required"


class AppPermissionRequired(NotGrantable):
    error = "app_permission_required"


class GroupRequired(NotGrantable):
    error = "group_required"


class GroupOverage(NotGrantable):
    error = "group_overage"


class GuestNotAllowed(NotGrantable):
    error = "guest_not_allowed"
    description = (
        "Guest users (B2B) may not call this operation; ask the API's owner to allow guests, or sign in "
        "with an account of your own organization."
    )


class ClientNotAllowed(NotGrantable):
    """An authentic caller through a client application the API (or the function) does not admit."""

    error = "client_not_allowed"

    def __init__(self, client_app_id: str | None, *, app_wide: bool) -> None:
        # Only a GUID is named back: the description travels in a header.
        named = client_app_id if client_app_id and _GUID.fullmatch(client_app_id) else "that obtained the token"
        if app_wide:
            who = "the API's owner lists the client apps it admits in the ENTRA_ALLOWED_CLIENT_APPS app setting"
            what = "this API"
        else:
            who = "the API's owner lists the client apps this operation admits in require_auth(clients=[...])"
            what = "this operation"
        super().__init__(f"The client application {named} may not call {what}; {who}.")
        self.client_app_id = client_app_id


class CallerKindNotAdmitted(NotGrantable):
    """A user where only applications are admitted, or the reverse."""

    error = "caller_not_admitted"


class AuthContextRequired(Forbidden):
    """A step-up (Conditional Access authentication context) the token does not carry.

    A client that declared the cp1 capability gets Microsoft's claims challenge (401
    insufficient_claims); any other gets 403, since it could not answer one.
    """

    description = "This operation requires a stronger authentication (a Conditional Access authentication context)."

    def __init__(self, context: str, client_can_step_up: bool, description: str | None = None) -> None:
        super().__init__(description)
        self.context = context
        self.client_can_step_up = client_can_step_up


class TenantNotAllowed(Forbidden):
    """An authentic token from a tenant that the policy refuses (403 tenant_not_allowed)."""

    description = "The caller's tenant is not allowed to use this API."


class RateLimited(AuthError):
    """An admitted caller over its rate limit (429 with Retry-After and the RateLimit fields)."""

    description = "Too many requests for this operation; retry after the time given."

    def __init__(self, retry_after: int, fields: dict[str, str]) -> None:
        super().__init__()
        self.retry_after = retry_after
        self.fields = fields


class TemporarilyUnavailable(AuthError):
    """What is needed to decide cannot be had right now (503 with Retry-After)."""

    description = "Authorization is temporarily unavailable; retry later."

    def __init__(self, retry_after: int = 10, description: str | None = None) -> None:
        super().__init__(description)
        self.retry_after = max(1, int(retry_after))


class KeysUnavailable(TemporarilyUnavailable):
    description = "The signing keys cannot be retrieved right now; retry later."


class TenantListUnavailable(TemporarilyUnavailable):
    description = "The allowed-tenants list cannot be retrieved right now; retry later."


class RateLimitStoreUnavailable(TemporarilyUnavailable):
    description = "The rate limit cannot be checked right now; retry later."


class DownstreamError(AuthError):
    """A token for a downstream API could not be had (``acquire_token``, ``acquire_app_token``).

    Left uncaught by a protected function, each branch becomes its answer like any refusal.
    """

    description = "A token for a downstream API could not be obtained."


class DownstreamInteractionRequired(DownstreamError):
    """The user must act first: a downstream resource's MFA or Conditional Access, or a claims challenge.

    ``claims`` is what to ask Entra for (a JSON object), when Entra or the downstream API named it. A
    client that declared cp1 is answered 401 ``insufficient_claims`` carrying it; any other 403.
    """

    description = (
        "A downstream API this operation calls needs the user to sign in again with more (MFA or a Conditional "
        "Access requirement); the calling app must declare the client capability cp1 to be asked for it."
    )

    def __init__(self, claims: str | None, description: str | None = None) -> None:
        super().__init__(description)
        self.claims = claims


class DownstreamConsentRequired(DownstreamError, NotGrantable):
    """This API was not granted a delegated permission of the downstream API (403 ``consent_required``)."""

    error = "consent_required"


class DownstreamUnavailable(DownstreamError, TemporarilyUnavailable):
    """Entra (or the managed identity endpoint) did not answer in time or failed (503 with Retry-After)."""

    description = "A token for a downstream API cannot be obtained right now; retry later."


class DownstreamCredentialError(DownstreamError):
    """This API's own credential (managed identity, certificate or secret) is refused or missing (500).

    ``setting`` names the app setting to look at; the message never holds a secret.
    """

    description = "The request could not be processed."

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__()
        self.setting = setting
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.setting}: {self.problem}"
