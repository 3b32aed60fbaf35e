"""What the local tenant knows of its apps: how each proves itself, what it was granted, what a resource demands.

Every application trusts the development managed identity as a federated identity credential (one
developer, one machine), so the secretless path works with nothing registered; secrets and
certificates are registered when a test or a developer wants that path. Consent is granted unless
taken back, and a downstream scope may demand an authentication context: both on demand, to see
the challenges an application must pass back.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ._entra_shape import issuer_for
from ._oauth_error import OAuthError
from ._state import HOME_TENANT

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"  # noqa: S105 - an audience
# The development managed identity: the subject of its tokens, and its own client id.
DEV_MANAGED_IDENTITY_OID = "ffffffff-0000-4000-8000-0000000000f1"
DEV_MANAGED_IDENTITY_CLIENT_ID = "ffffffff-0000-4000-8000-0000000000f2"
# Looks a public key up by kid among the issuer's own keys.
PublicKeyOf = Callable[[str], Any]


class Registrations:
    """The application registrations of the local tenant; safe under the server's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: dict[str, set[str]] = {}
        self._certificates: dict[str, dict[str, Any]] = {}
        self._withheld: set[tuple[str, str]] = set()
        self._step_ups: dict[str, str] = {}

    def add_secret(self, client_id: str, secret: str) -> None:
        with self._lock:
            self._secrets.setdefault(client_id, set()).add(secret)

    def add_certificate(self, client_id: str, certificate_pem: bytes) -> None:
        """Trust a certificate's key for the client's assertions (by its x5t, as Entra does)."""
        certificate = x509.load_pem_x509_certificate(certificate_pem)
        with self._lock:
            known = self._certificates.setdefault(client_id, {})
            # Named by x5t (SHA-1, the older way) or x5t#S256 (what MSAL sends today).
            for algorithm in (hashes.SHA1(), hashes.SHA256()):  # noqa: S303 - x5t is SHA-1 by definition
                thumbprint = base64.urlsafe_b64encode(certificate.fingerprint(algorithm)).rstrip(b"=").decode()
                known[thumbprint] = certificate.public_key()

    def withhold_consent(self, client_id: str, scope: str) -> None:
        """Take back the consent for ``client_id`` to ``scope`` of a downstream API."""
        with self._lock:
            self._withheld.add((client_id, scope))

    def grant_consent(self, client_id: str, scope: str) -> None:
        with self._lock:
            self._withheld.discard((client_id, scope))

    def consented(self, client_id: str, scope: str) -> bool:
        with self._lock:
            return (client_id, scope) not in self._withheld

    def demand_auth_context(self, scope: str, context: str | None) -> None:
        """Make a downstream scope demand a Conditional Access authentication context (None: no longer)."""
        with self._lock:
            if context is None:
                self._step_ups.pop(scope, None)
            else:
                self._step_ups[scope] = context

    def auth_context_for(self, scope: str) -> str | None:
        with self._lock:
            return self._step_ups.get(scope)

    def authenticate(self, form: dict[str, str], token_endpoint: str, base_url: str, key_of: PublicKeyOf) -> bool:
        """Whether the client proved itself; False when it presented no credential at all.

        Raises:
            OAuthError: 401 invalid_client for a credential it presented and that does not hold.
        """
        client_id = form.get("client_id", "")
        if "client_secret" in form:
            with self._lock:
                if form["client_secret"] in self._secrets.get(client_id, set()):
                    return True
            raise _invalid_client(7000215, "Invalid client secret provided.")
        if "client_assertion" not in form:
            return False
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            raise _invalid_client(700024, "client_assertion_type is not jwt-bearer.")
        assertion = form["client_assertion"]
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            raise _invalid_client(700024, "The client assertion is not a JWT.") from None
        if "kid" in header and "x5t" not in header and "x5t#S256" not in header:
            self._federated(assertion, header["kid"], base_url, key_of)
        else:
            self._certificate(assertion, header, client_id, token_endpoint)
        return True

    def _federated(self, assertion: str, kid: str, base_url: str, key_of: PublicKeyOf) -> None:
        # A managed identity's token, issued by this tenant: what a federated identity credential trusts.
        try:
            claims = jwt.decode(
                assertion,
                key_of(kid),
                algorithms=["RS256"],
                audience=TOKEN_EXCHANGE_AUDIENCE,
                issuer=issuer_for(base_url, HOME_TENANT, "2.0"),
            )
        except (jwt.PyJWTError, KeyError):
            raise _invalid_client(
                700213, "No matching federated identity record found for presented assertion."
            ) from None
        if claims.get("sub") != DEV_MANAGED_IDENTITY_OID:
            raise _invalid_client(70021, "No federated identity record matches the assertion's subject.")

    def _certificate(self, assertion: str, header: dict[str, Any], client_id: str, token_endpoint: str) -> None:
        with self._lock:
            keys = dict(self._certificates.get(client_id, {}))
        # MSAL pads its base64url thumbprint; Entra reads it either way.
        key = keys.get(str(header.get("x5t#S256") or header.get("x5t") or "").rstrip("="))
        if key is None:
            raise _invalid_client(
                700027, "The certificate with identifier used to sign the client assertion is not registered."
            )
        try:
            claims = jwt.decode(assertion, key, algorithms=["RS256", "PS256"], audience=token_endpoint)
        except jwt.PyJWTError:
            raise _invalid_client(700027, "The client assertion failed signature validation.") from None
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            raise _invalid_client(700027, "The client assertion names another client.")


def _invalid_client(code: int, description: str) -> OAuthError:
    return OAuthError("invalid_client", f"AADSTS{code}: {description}", status=401, error_codes=[code])
