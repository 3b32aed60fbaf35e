"""The request a protected function is serving: its caller's token, reachable only while the function runs.

On-behalf-of exchanges the caller's own token for one to a downstream API. That token is never kept
with the principal (the validated-token cache keeps principals across requests): the decorator puts
the request's Authorization header in a context variable for the duration of the call and takes it
away afterwards, and the exchange reads it from there. A context variable follows the call into
``asyncio.to_thread`` and no further.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .principal import Principal


class TokenAcquirer(Protocol):
    """What exchanges a caller's token (the downstream room provides it, built on first use)."""

    def on_behalf_of(self, principal: Principal, assertion: str, scopes: Sequence[str]) -> str: ...


Serving = tuple["Principal", str]
_serving: ContextVar[Serving | None] = ContextVar("authorizer_delegation", default=None)
# Set once by the runtime's wiring: this room cannot import the rooms above it.
_acquirer: Callable[[], TokenAcquirer] | None = None


def install_acquirer(source: Callable[[], TokenAcquirer]) -> None:
    """Say where the process's token acquirer comes from (the runtime does, at import)."""
    global _acquirer
    _acquirer = source


def begin(principal: Principal, authorization: str) -> Token[Serving | None]:
    """Make this caller and its Authorization header the request being served, until ``end``."""
    return _serving.set((principal, authorization))


def end(token: Token[Serving | None]) -> None:
    _serving.reset(token)


def delegation_for(principal: Principal) -> tuple[str, TokenAcquirer]:
    """The bearer token ``principal`` presented on the request being served, and who can exchange it.

    Raises:
        RuntimeError: outside the protected function that received this principal, or after it returned.
    """
    from .authenticator import bearer_token

    serving = _serving.get()
    if serving is None or serving[0] is not principal or _acquirer is None:
        raise RuntimeError(
            "acquire_token works inside the protected function that received this principal, while it runs: "
            "the caller's token is kept for no longer than its request"
        )
    return bearer_token(serving[1]), _acquirer()
