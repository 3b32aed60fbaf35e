"""The per-function check: the caller, or the answer that refuses it; with its log record, metrics and span.

Authentication (the token, the cache, and the tenant list, checked inside it) is timed into
``entra_authorizer.authentication.duration``; every authenticated caller is an authorization attempt
(the tenant, then the function's requirements), counted with its function and, when refused, the 403
code. One span, ``entra_authorizer.authorize``, covers the decision, child of the worker's invocation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from time import perf_counter

import azure.functions as func

from .._errors import (
    AuthContextRequired,
    AuthError,
    ClientNotAllowed,
    MissingCredentials,
    TenantListUnavailable,
    TenantNotAllowed,
)
from .._policy.requirements import Requirement
from .._remote.refresh import WouldBlock
from .._telemetry.signals import CLIENT, ERROR, FUNCTION, RESULT, TENANT, Signals, host_trace, observed
from .._token.authenticator import Trace
from .._token.principal import Principal
from . import runtime
from .answers import SERVER_ERROR, Answer, answer_for, to_http_response
from .decision_log import log_decision
from .markers import FunctionName

logger = logging.getLogger("authorizer")
Authorize = Callable[[func.HttpRequest | None, bool, Trace], Principal | func.HttpResponse]
# Authorization failures of the app-wide policy (tenants, client apps), raised while authenticating:
# the token itself was good.
_APP_POLICY_REFUSALS = (TenantNotAllowed, TenantListUnavailable, ClientNotAllowed)
_AUTHENTICATED = {RESULT: "success"}
_NO_CREDENTIALS = {RESULT: "none"}
_failed_authentication: dict[str, dict[str, str]] = {}


def begin_decision(name: FunctionName, invocation: object = None) -> Trace:
    """The record of one decision, its clock started, and its span when an SDK records spans.

    ``invocation`` is the worker's invocation context: its trace parent is the host's invocation span.
    """
    started = perf_counter()
    trace = Trace(started)
    found = observed(started)
    if found is not None:
        if found.metering:
            trace.metrics = found
        if found.tracing:
            parent = host_trace(invocation)
            trace.span = found.tracer.start_span(
                "entra_authorizer.authorize", parent, attributes={FUNCTION: name.value}
            )
    return trace


def authorizer_of(name: FunctionName, requirement: Requirement) -> Authorize:
    """The check of one function. Raises only WouldBlock (the caller retries on a worker thread)."""
    check = requirement.check
    attempts: dict[tuple[str, str | None], dict[str, str]] = {}

    def authorize(request: func.HttpRequest | None, allow_io: bool, trace: Trace) -> Principal | func.HttpResponse:
        found: Signals | None = trace.metrics
        try:
            if request is None:
                raise TypeError("no HttpRequest argument reached the protected function")
            principal = runtime.current().authenticator.authenticate(
                request.headers.get("Authorization"), allow_io=allow_io, trace=trace
            )
        except WouldBlock:
            raise
        except AuthError as error:
            return refuse(error, trace, found, authenticated=isinstance(error, _APP_POLICY_REFUSALS))
        except Exception:
            return failed(trace)
        if found is not None:
            found.authentication_duration.record(perf_counter() - trace.started, _AUTHENTICATED)
        try:
            # Policy only ever sees an authenticated caller from an allowed tenant.
            check(principal)
        except AuthError as error:
            return refuse(error, trace, found, authenticated=True, timed=True)
        except Exception:
            return failed(trace)
        if found is not None:
            found.authorization_attempts.add(1, attributes("success", None, trace))
        log_decision(name.value, 200, "authorized", trace)
        if trace.span is not None:
            _end(trace, "success", None)
        return principal

    def refuse(
        error: AuthError, trace: Trace, found: Signals | None, *, authenticated: bool, timed: bool = False
    ) -> func.HttpResponse:
        answer = answer_for(
            error,
            runtime.settings(),
            requirement.challenge_scopes(),
            metadata_served=runtime.metadata_served(),
            authorization_uri=_authorize_endpoint(error),
        )
        if found is not None:
            record(found, answer, trace, authenticated, timed)
        log_decision(name.value, answer.status, type(error).__name__, trace)
        _end(trace, "none" if isinstance(error, MissingCredentials) else "failure", answer.error)
        return to_http_response(answer)

    def record(found: Signals, answer: Answer, trace: Trace, authenticated: bool, timed: bool) -> None:
        if not timed:
            elapsed = perf_counter() - trace.started
            if authenticated:
                found.authentication_duration.record(elapsed, _AUTHENTICATED)
            else:
                found.authentication_duration.record(elapsed, _authentication_failure(answer))
        if authenticated:
            found.authorization_attempts.add(1, attributes("failure", answer.error, trace))

    def attributes(result: str, error: str | None, trace: Trace) -> dict[str, str]:
        if runtime.settings().telemetry_tenant_ids:
            # Opted in: a tenant and a client app per series, as many series as callers' tenants and apps.
            tid, _, client = trace.ids()
            chosen = {FUNCTION: name.value, RESULT: result, TENANT: tid or "-", CLIENT: client or "-"}
            return chosen | ({ERROR: error} if error is not None else {})
        key = (name.value, error)
        found = attempts.get(key)
        if found is None:
            found = {FUNCTION: name.value, RESULT: result} | ({ERROR: error} if error is not None else {})
            attempts[key] = found
        return found

    def failed(trace: Trace) -> func.HttpResponse:
        # Never "invalid token" for our own failure, and never a pass: a generic 500.
        logger.exception("authorization failed unexpectedly in %s", name.value)
        log_decision(name.value, SERVER_ERROR.status, "unexpected_error", trace)
        _end(trace, "failure", SERVER_ERROR.error)
        return to_http_response(SERVER_ERROR)

    return authorize


def _authentication_failure(answer: Answer) -> dict[str, str]:
    if answer.error == "missing_token":
        return _NO_CREDENTIALS
    found = _failed_authentication.get(answer.error)
    if found is None:
        found = {RESULT: "failure", ERROR: answer.error}
        _failed_authentication[answer.error] = found
    return found


def _end(trace: Trace, result: str, error: str | None) -> None:
    span = trace.span
    if span is None:
        return
    span.set_attribute(RESULT, result)
    if error is not None:
        span.set_attribute(ERROR, error)
    settings = runtime.settings()
    tid, oid, client = trace.ids()
    if settings.telemetry_tenant_ids:
        span.set_attribute(TENANT, tid or "-")
        span.set_attribute(CLIENT, client or "-")
    if settings.telemetry_user_ids and oid is not None:
        # Opted in: the signed-in user's object id, as OpenTelemetry's enduser.id.
        span.set_attribute("enduser.id", oid)
    span.end()


def _authorize_endpoint(error: AuthError) -> str | None:
    # Only a claims challenge names it; read from the metadata in hand, never fetched for a refusal.
    if not isinstance(error, AuthContextRequired):
        return None
    return runtime.current().authenticator.authority.authorization_endpoint()
