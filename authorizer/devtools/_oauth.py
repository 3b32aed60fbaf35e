"""The OAuth side of the local issuer: authorization codes with PKCE, refresh tokens, token responses.

Enough of Entra's behaviour for MSAL.js to run unchanged (popup sign-in, silent tokens for more
scopes, claims challenges) and for curl to get tokens with no browser at all.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from .._settings.app_settings import GUID, is_loopback_host
from ._clients import Registrations
from ._downstream_grants import OBO_GRANT, app_token, on_behalf_of
from ._entra_shape import (
    LIFETIME_SECONDS,
    ClaimsRequest,
    DevUser,
    ServedApi,
    TokenRequest,
    access_token_claims,
    id_token_claims,
    user_named,
)
from ._oauth_error import OAuthError
from ._signing import SigningKeys, b64url

CODE_SECONDS = 600
OIDC_SCOPES = frozenset({"openid", "profile", "offline_access"})
# What a single-page app redeems from a browser (PKCE code, refresh token); every other grant is a server's.
BROWSER_GRANTS = frozenset({"authorization_code", "refresh_token"})
# Codes and refresh tokens kept at most: a dev tool must not grow without bound either.
MAX_GRANTS = 10_000


@dataclass(frozen=True)
class CodeGrant:
    user: DevUser
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    claims: ClaimsRequest
    expires_at: float


@dataclass(frozen=True)
class RefreshGrant:
    user: DevUser
    client_id: str


class _Bounded(OrderedDict[str, Any]):
    def keep(self, key: str, value: Any) -> None:
        self[key] = value
        while len(self) > MAX_GRANTS:
            self.popitem(last=False)


class OAuthFlows:
    """Issues tokens for the local issuer; safe under the server's threads."""

    def __init__(
        self,
        keys: SigningKeys,
        base_url: str,
        registrations: Registrations | None = None,
        api: ServedApi | None = None,
    ) -> None:
        self.keys = keys
        self.base_url = base_url
        self.registrations = registrations or Registrations()
        # The API tokens are for unless a request names another (dev_api): one issuer, any app's API.
        self.api = api or ServedApi()
        self._lock = threading.Lock()
        self._codes: _Bounded = _Bounded()
        self._refresh: _Bounded = _Bounded()

    def authorize(self, query: dict[str, str]) -> str:
        """The redirect location that answers an authorization request (code flow with PKCE).

        Raises:
            OAuthError: a request no real authority would answer with a code either.
        """
        redirect_uri = query.get("redirect_uri", "")
        # A development issuer hands codes only to pages on this machine: never an open redirector.
        parts = urlsplit(redirect_uri)
        if parts.scheme not in ("http", "https") or not is_loopback_host(parts.hostname or ""):
            raise OAuthError("invalid_request", "redirect_uri must be a page on 127.0.0.1 or localhost")
        if query.get("response_type") != "code" or not query.get("client_id"):
            raise OAuthError("unsupported_response_type", "only response_type=code with a client_id is supported")
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            raise OAuthError("invalid_request", "PKCE with S256 is required")
        mode = query.get("response_mode", "fragment")
        if mode not in ("query", "fragment"):
            raise OAuthError("invalid_request", "response_mode must be query or fragment")
        code = secrets.token_urlsafe(32)
        grant = CodeGrant(
            user=user_named(query.get("login_hint")),
            client_id=query["client_id"],
            redirect_uri=redirect_uri,
            code_challenge=query["code_challenge"],
            nonce=query.get("nonce"),
            claims=_claims(query.get("claims")),
            expires_at=time.monotonic() + CODE_SECONDS,
        )
        with self._lock:
            self._codes.keep(code, grant)
        answer = {"code": code, **({"state": query["state"]} if "state" in query else {})}
        return f"{redirect_uri}{'?' if mode == 'query' else '#'}{urlencode(answer)}"

    def token(
        self, form: dict[str, str], *, from_page: bool = False, tenant: str = "organizations", endpoint: str = ""
    ) -> dict[str, Any]:
        """The token endpoint's JSON answer; ``from_page`` when a web page sent the request (it carried Origin).

        ``tenant`` and ``endpoint`` are the request's path: a client's assertion is addressed to the endpoint.

        Raises:
            OAuthError: an unknown grant, a spent or wrong code, a PKCE mismatch, malformed fields, or a
                grant that only a command line or a confidential client may use, sent by a page.
        """
        grant_type = form.get("grant_type")
        client_id = form.get("client_id", "")
        if not client_id:
            # As Entra (AADSTS900144): every token names the client that asked for it.
            raise OAuthError("invalid_request", "the request body must contain client_id")
        if from_page and grant_type not in BROWSER_GRANTS:
            # As Entra (AADSTS9002326): a page may redeem only a browser client's grants. Here it also keeps
            # every other web page from minting tokens with any roles, no credential asked.
            raise OAuthError("invalid_request", f"grant_type {grant_type!r} is not accepted from a browser page")
        scopes = tuple(form.get("scope", "").split())
        version = "1.0" if form.get("token_version") == "1" else "2.0"
        proved = self.registrations.authenticate(form, endpoint, self.base_url, self.keys.public_key)
        now = int(time.time())
        if grant_type == OBO_GRANT:
            if not proved:
                raise OAuthError(
                    "invalid_client", "AADSTS7000218: a client_assertion or client_secret is required", 401
                )
            return on_behalf_of(form, client_id, self.keys, self.base_url, self.registrations, now)
        if grant_type == "client_credentials" and proved:
            home = tenant if tenant not in ("organizations", "common") else self.api.tenant
            return app_token(form, client_id, home, self.keys, self.base_url, now)
        if grant_type == "client_credentials":
            # The development shortcut for `python -m authorizer token --app-only`: no credential asked.
            request = TokenRequest(
                client_id,
                version,
                form.get("dev_tenant") or None,
                None,
                scopes,
                app_roles=_names(form, "dev_app_roles"),
                api=self._api_named(form),
                groups=_names(form, "dev_groups"),
            )
            return self._answer(request, refresh_for=None)
        if grant_type == "authorization_code":
            code = self._redeem(form)
            request = TokenRequest(code.client_id, version, None, code.user, scopes, claims=code.claims, api=self.api)
            return self._answer(request, refresh_for=code.user, nonce=code.nonce)
        if grant_type == "refresh_token":
            with self._lock:
                refresh: RefreshGrant | None = self._refresh.get(form.get("refresh_token", ""))
            if refresh is None or refresh.client_id != client_id:
                raise OAuthError("invalid_grant", "unknown refresh token")
            request = TokenRequest(
                client_id, version, None, refresh.user, scopes, claims=_claims(form.get("claims")), api=self.api
            )
            return self._answer(request, refresh_for=refresh.user)
        if grant_type == "password":
            # A development shortcut for curl: no password is checked, the user is named.
            roles = _names(form, "dev_roles") if "dev_roles" in form else None
            request = TokenRequest(
                client_id,
                version,
                form.get("dev_tenant") or None,
                user_named(form.get("username")),
                scopes,
                roles=roles,
                claims=_claims(form.get("claims")),
                api=self._api_named(form),
                groups=_names(form, "dev_groups"),
            )
            return self._answer(request, refresh_for=None)
        raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")

    def _api_named(self, form: dict[str, str]) -> ServedApi:
        """The API a command-line request names (dev_api: its client id; dev_home_tenant), else this issuer's."""
        named = {"dev_api": form.get("dev_api") or self.api.client_id}
        named["dev_home_tenant"] = form.get("dev_home_tenant") or self.api.tenant
        for field_name, value in named.items():
            if not GUID.fullmatch(value):
                raise OAuthError("invalid_request", f"{field_name} must be a GUID")
        return ServedApi(named["dev_api"].lower(), named["dev_home_tenant"].lower())

    def _redeem(self, form: dict[str, str]) -> CodeGrant:
        with self._lock:
            code: CodeGrant | None = self._codes.pop(form.get("code", ""), None)
        if code is None or code.expires_at < time.monotonic():
            raise OAuthError("invalid_grant", "the code is unknown, spent or expired")
        if code.client_id != form.get("client_id") or code.redirect_uri != form.get("redirect_uri"):
            raise OAuthError("invalid_grant", "client_id or redirect_uri differ from the authorization request")
        verifier = form.get("code_verifier", "")
        if b64url(hashlib.sha256(verifier.encode()).digest()) != code.code_challenge:
            raise OAuthError("invalid_grant", "the code_verifier does not match the code_challenge")
        return code

    def _answer(
        self, request: TokenRequest, *, refresh_for: DevUser | None, nonce: str | None = None
    ) -> dict[str, Any]:
        api = request.api
        if request.user is not None and api != ServedApi() and api.scope_prefix + ".default" in request.scopes:
            # The sample's .default means its own scopes; of another app's API the issuer knows none.
            raise OAuthError(
                "invalid_scope",
                f"the local issuer does not know the delegated scopes of API {api.client_id}: name them "
                f"({api.scope_prefix}<scope>) instead of .default",
            )
        now = int(time.time())
        answer: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(scope for scope in request.scopes if scope not in OIDC_SCOPES),
            "expires_in": LIFETIME_SECONDS,
            "ext_expires_in": LIFETIME_SECONDS,
            "access_token": self.keys.sign(access_token_claims(self.base_url, request, now)),
        }
        user = request.user
        home = (user.tenant if user else None) or request.api.tenant
        if user is not None and "openid" in request.scopes:
            claims = id_token_claims(self.base_url, user, home, request.client_id, nonce, now)
            answer["id_token"] = self.keys.sign(claims)
        if user is not None:
            # MSAL.js (AAD mode) builds its account from client_info, as Entra sends it.
            info = json.dumps({"uid": user.oid, "utid": home}).encode()
            answer["client_info"] = b64url(info)
        if refresh_for is not None:
            token = secrets.token_urlsafe(32)
            with self._lock:
                self._refresh.keep(token, RefreshGrant(refresh_for, request.client_id))
            answer["refresh_token"] = token
        return answer


def _names(form: dict[str, str], field: str) -> tuple[str, ...]:
    return tuple(name for name in form.get(field, "").split(",") if name)


def _claims(raw: str | None) -> ClaimsRequest:
    try:
        return ClaimsRequest.parse(raw)
    except ValueError:
        raise OAuthError("invalid_request", "claims must be a JSON object") from None
