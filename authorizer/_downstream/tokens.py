"""Downstream tokens through MSAL: on behalf of the caller (OBO) and as the app, each within a deadline.

MSAL's token cache holds the tokens (one cache for every tenant's application object). What a user's
request may reach is keyed by the validated caller (tenant and object id): one user's tokens are never
looked up for another. The number of users kept is bounded; the least recently served leave MSAL's
cache too. In front of MSAL sits a memo of its last answer per user and scopes, valid until MSAL
itself would look again (five minutes before the token ends): a repeat costs a dictionary lookup.
Imported only when a downstream token is first asked for (it imports MSAL).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msal
import requests

from .._errors import DownstreamCredentialError, DownstreamError
from .._remote.deadline import Deadline, DeadlineAdapter
from .._settings.app_settings import AuthSettings
from .._telemetry.signals import KIND, RESULT, listening
from .._token.principal import Principal
from .credential import AssertionRefused, client_credential
from .outcomes import refusal, setting_of, token_of, unavailable
from .settings import DownstreamSettings

logger = logging.getLogger("authorizer.downstream")
# MSAL hands back a cached token only while it has five minutes left; the memo ends where MSAL's answer would.
MSAL_EXPIRY_MARGIN = 300
Clock = Callable[[], float]


@dataclass
class _Memo:
    token: str
    usable_until: float


@dataclass
class _User:
    """One caller's place in MSAL's cache, and the last answers for each set of scopes."""

    account: dict[str, Any] | None = None
    memos: dict[tuple[str, ...], _Memo] = field(default_factory=dict)


ON_BEHALF_OF = "on_behalf_of"
APP = "app"
_attributes = {
    (kind, result): {KIND: kind, RESULT: result}
    for kind in (ON_BEHALF_OF, APP)
    for result in ("hit", "miss", "failure")
}


def _count(kind: str, result: str) -> None:
    found = listening()
    if found is not None:
        found.downstream_requests.add(1, _attributes[kind, result])


def _source(result: dict[str, Any]) -> str:
    # MSAL marks where its answer came from: its cache, or the identity provider.
    return "hit" if result.get("token_source") == "cache" else "miss"


class _Session(requests.Session):
    """A session whose own ``verify`` holds per request (requests otherwise lets REQUESTS_CA_BUNDLE win)."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("verify", self.verify)
        return super().request(method, url, *args, **kwargs)


class DownstreamTokens:
    """One per process: MSAL applications per tenant, their shared cache, and the bounded index of users."""

    def __init__(self, auth: AuthSettings, settings: DownstreamSettings, clock: Clock = time.monotonic) -> None:
        self._auth = auth
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._cache = msal.TokenCache()
        self._apps: dict[str, msal.ConfidentialClientApplication] = {}
        self._users: OrderedDict[tuple[str, str], _User] = OrderedDict()
        self._app_memos: dict[tuple[str, ...], _Memo] = {}
        self._session = _Session()
        adapter = DeadlineAdapter()
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        if auth.dev_ca_bundle is not None:
            # Development only (the settings refuse it for a real authority): the local issuer's CA.
            self._session.verify = auth.dev_ca_bundle
        self._credential: str | dict[str, Any] | None = None

    def on_behalf_of(self, principal: Principal, assertion: str, scopes: Sequence[str]) -> str:
        """A token for ``scopes`` on behalf of the validated ``principal``, from the token it presented.

        Raises:
            DownstreamError: a subclass saying what the refusal means.
        """
        key = (principal.tid, principal.oid or principal.sub or "")
        wanted = tuple(sorted(scopes))
        with self._lock:
            user = self._users.get(key)
            if user is not None:
                self._users.move_to_end(key)
                memo = user.memos.get(wanted)
                if memo is not None and self._clock() < memo.usable_until:
                    _count(ON_BEHALF_OF, "hit")
                    return memo.token
        try:
            result = self._exchange(principal, assertion, list(scopes), user)
            token = token_of(result, self._settings, scopes, ON_BEHALF_OF)
        except DownstreamError:
            _count(ON_BEHALF_OF, "failure")
            raise
        _count(ON_BEHALF_OF, _source(result))
        self._remember(key, principal, wanted, token, result)
        return token

    def for_app(self, scopes: Sequence[str]) -> str:
        """An app-only token for ``scopes`` (client credentials, this API's home tenant).

        Raises:
            DownstreamError: a subclass saying what the refusal means.
        """
        wanted = tuple(sorted(scopes))
        with self._lock:
            memo = self._app_memos.get(wanted)
            if memo is not None and self._clock() < memo.usable_until:
                _count(APP, "hit")
                return memo.token
        try:
            # MSAL looks in its cache first for client credentials, and asks Entra only when it must.
            home = self._auth.tenant_id
            result = self._within_deadline(lambda: self._app(home).acquire_token_for_client(list(scopes)))
            token = token_of(result, self._settings, scopes, APP)
        except DownstreamError:
            _count(APP, "failure")
            raise
        _count(APP, _source(result))
        with self._lock:
            self._app_memos[wanted] = _Memo(token, self._usable_until(result))
        return token

    def forget(self, principal: Principal) -> None:
        """Drop everything kept for this caller (a downstream API challenged a token of theirs)."""
        with self._lock:
            user = self._users.pop((principal.tid, principal.oid or principal.sub or ""), None)
        if user is not None and user.account is not None:
            self._app(principal.tid).remove_account(user.account)

    def _exchange(self, principal: Principal, assertion: str, scopes: list[str], user: _User | None) -> dict[str, Any]:
        def ask() -> dict[str, Any]:
            app = self._app(principal.tid)
            if user is not None and user.account is not None:
                # MSAL's own cache (and its refresh token) before a new exchange.
                cached = app.acquire_token_silent_with_error(scopes, account=user.account)
                if cached and "access_token" in cached:
                    return dict(cached)
            answer: dict[str, Any] = app.acquire_token_on_behalf_of(assertion, scopes)
            return answer

        return self._within_deadline(ask)

    def _within_deadline(self, ask: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run MSAL within one wall-clock deadline; whatever goes wrong on the way is one of our errors."""
        with Deadline(self._settings.timeout_seconds):
            try:
                return ask()
            except DownstreamError:
                raise
            except AssertionRefused as error:
                raise DownstreamCredentialError(
                    setting_of(self._settings), f"the managed identity gave no assertion ({error})"
                ) from None
            except (requests.RequestException, OSError, ValueError, msal.exceptions.MsalServiceError) as error:
                # Entra or the identity endpoint down, slow past the deadline, or answering garbage.
                logger.warning("downstream token request failed: %s", type(error).__name__)
                raise unavailable(self._settings) from None

    def _app(self, tenant: str) -> msal.ConfidentialClientApplication:
        """The MSAL application for one tenant (built once; its discovery runs within the caller's deadline)."""
        app = self._apps.get(tenant)
        if app is not None:
            return app
        with self._lock:
            app = self._apps.get(tenant)
            if app is None:
                if self._credential is None:
                    self._credential = client_credential(self._settings, self._auth, self._session)
                app = msal.ConfidentialClientApplication(
                    self._auth.client_id,
                    client_credential=self._credential,
                    authority=f"{self._auth.instance}/{tenant}",
                    token_cache=self._cache,
                    http_client=self._session,
                    # Downstream APIs may challenge with claims (CAE, step-up): we pass them back.
                    client_capabilities=["cp1"],
                    # A local issuer is its own authority: no instance discovery call to Microsoft.
                    instance_discovery=False if self._auth.uses_loopback_instance else None,
                )
                self._apps[tenant] = app
        return app

    def _remember(
        self, key: tuple[str, str], principal: Principal, wanted: tuple[str, ...], token: str, result: dict[str, Any]
    ) -> None:
        account = self._account_of(principal)
        evicted: list[tuple[str, _User]] = []
        with self._lock:
            user = self._users.get(key) or _User()
            self._users[key] = user
            self._users.move_to_end(key)
            user.account = account
            user.memos[wanted] = _Memo(token, self._usable_until(result))
            while len(self._users) > self._settings.cache_users:
                evicted_key, evicted_user = self._users.popitem(last=False)
                evicted.append((evicted_key[0], evicted_user))
        # Outside our lock: MSAL takes its own. A user who leaves the index leaves MSAL's cache too.
        for tenant, gone in evicted:
            if gone.account is not None:
                self._app(tenant).remove_account(gone.account)

    def _account_of(self, principal: Principal) -> dict[str, Any] | None:
        """MSAL's account for this caller: the one whose object id and tenant are the caller's."""
        for account in self._app(principal.tid).get_accounts():
            if account.get("local_account_id") == principal.oid and account.get("realm") == principal.tid:
                return dict(account)
        return None

    def _usable_until(self, result: dict[str, Any]) -> float:
        lifetime = float(result.get("expires_in") or 0) - MSAL_EXPIRY_MARGIN
        refresh_in = result.get("refresh_in")
        if isinstance(refresh_in, int | float):
            lifetime = min(lifetime, float(refresh_in))
        return self._clock() + max(0.0, lifetime)


__all__ = ["DownstreamTokens", "refusal"]
