"""A downstream refusal raised in a protected function, answered as the client must act on it.

``acquire_token``, ``acquire_app_token`` and ``raise_for_claims_challenge`` raise; a function that does
not catch them gets the answer here: a claims challenge for MSAL.js (401 to a cp1 client), 403
``consent_required`` or ``interaction_required``, 503 while Entra cannot answer, 500 for our own
credential (logged with the setting to look at).
"""

from __future__ import annotations

import logging

import azure.functions as func

from .._errors import DownstreamCredentialError, DownstreamError, DownstreamInteractionRequired
from .._policy.refusals import CLAIMS_CHALLENGE_CAPABILITY
from .._token.authenticator import Trace
from .._token.principal import Principal
from . import runtime
from .answers import answer_for, to_http_response
from .decision_log import log_decision

logger = logging.getLogger("authorizer")


def refuse_downstream(function: str, error: DownstreamError, principal: Principal) -> func.HttpResponse:
    """The answer to a downstream refusal; the caller's kept tokens are dropped when it must act."""
    current = runtime.current()
    authorization_uri = None
    if isinstance(error, DownstreamInteractionRequired):
        # The retry after the user acts must ask Entra afresh, never serve the token that was challenged.
        current.downstream.forget(principal)
        authorization_uri = current.authenticator.authority.authorization_endpoint()
    if isinstance(error, DownstreamCredentialError):
        logger.error("downstream token request failed in %s: %s (check %s)", function, error.problem, error.setting)
    answer = answer_for(
        error,
        current.settings,
        authorization_uri=authorization_uri,
        client_can_step_up=CLAIMS_CHALLENGE_CAPABILITY in principal.client_capabilities,
    )
    log_decision(function, answer.status, type(error).__name__, Trace(claims=principal.claims))
    return to_http_response(answer)
