"""The process's downstream tokens, built (and MSAL imported) when the first token is asked for."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .._errors import DownstreamCredentialError
from .._settings.app_settings import AuthSettings
from .._settings.extras import missing_distributions
from .._token.principal import Principal
from .settings import INSTALL_COMMAND, DownstreamSettings

if TYPE_CHECKING:
    from .tokens import DownstreamTokens


class LazyDownstream:
    """The process's DownstreamTokens, built (and MSAL imported) when the first token is asked for."""

    def __init__(self, auth: AuthSettings, settings: DownstreamSettings, monotonic: Callable[[], float]) -> None:
        self.auth = auth
        self.settings = settings
        self._monotonic = monotonic
        self._tokens: DownstreamTokens | None = None
        self._lock = threading.Lock()

    def tokens(self) -> DownstreamTokens:
        """The DownstreamTokens, built on first use.

        Raises:
            DownstreamCredentialError: the downstream extra is not installed.
        """
        if self._tokens is None:
            with self._lock:
                if self._tokens is None:
                    if missing_distributions("msal"):
                        raise DownstreamCredentialError("ENTRA_CLIENT_CREDENTIAL", f"needs MSAL: {INSTALL_COMMAND}")
                    from .tokens import DownstreamTokens

                    self._tokens = DownstreamTokens(self.auth, self.settings, self._monotonic)
        return self._tokens

    def on_behalf_of(self, principal: Principal, assertion: str, scopes: Sequence[str]) -> str:
        return self.tokens().on_behalf_of(principal, assertion, scopes)

    def forget(self, principal: Principal) -> None:
        """Drop what is kept for this caller; nothing to do before the first token."""
        if self._tokens is not None:
            self._tokens.forget(principal)
