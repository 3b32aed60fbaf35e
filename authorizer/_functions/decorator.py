"""``require_auth`` and ``allow_anonymous``: the one line that protects an HTTP function."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import azure.functions as func

from .._errors import DownstreamError
from .._policy.rate_limits import parse_limits
from .._policy.requirements import Requirement, build_requirement
from .._remote.refresh import WouldBlock
from .._token.delegation import begin, end
from .._token.principal import Principal
from . import runtime
from .authorize import authorizer_of, begin_decision
from .downstream_answers import refuse_downstream
from .markers import ANONYMOUS, FunctionName, attach_name, mark, refuse_unless_plain_function
from .rate_gate import RateGate

if TYPE_CHECKING:
    from limits import RateLimitItem

PRINCIPAL_PARAMETER = "principal"
CONTEXT_PARAMETER = "context"
_HOST_PARAMETERS = frozenset({PRINCIPAL_PARAMETER, CONTEXT_PARAMETER})

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")


def require_auth(
    *,
    scopes: Iterable[str] = (),
    roles: Iterable[str] = (),
    app_roles: Iterable[str] = (),
    permissions: Iterable[str] = (),
    groups: Iterable[str] = (),
    auth_context: str | None = None,
    allow_app_only: bool = False,
    allow_guests: bool | None = None,
    rate_limit: str | None = None,
    clients: Iterable[str] = (),
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Protect an HTTP function with an Entra access token; stack it under ``@app.route``.

    ``scopes``: delegated scopes (scp), any one suffices. ``roles``: app roles the signed-in
    user holds. ``app_roles``: application permissions of app-only callers. ``permissions``:
    effective permissions under ``define_permissions``. ``groups``: group object ids, any one
    of which a signed-in user must be in. ``auth_context``: a Conditional Access authentication
    context (c1-c99) a signed-in user must have met, asked for with a claims challenge. Every kind
    listed must hold for every caller it applies to. With none listed, any delegated caller
    passes; app-only callers only with ``allow_app_only``, which is refused beside any
    requirement. B2B guests are refused unless ``allow_guests`` (default: ENTRA_ALLOW_GUESTS).
    ``rate_limit``: per caller, in the limits notation ("60/minute", "10/second;600/hour");
    default RATE_LIMIT_DEFAULT, "" for none. ``clients``: the client app ids (azp / appid) whose
    callers this function admits, users and applications alike (within ENTRA_ALLOWED_CLIENT_APPS).

    Raises:
        TypeError: stacked in the wrong order, or a function without a request parameter.
        ValueError: malformed requirement names or client ids, allow_app_only beside a requirement, or
            a client that ENTRA_ALLOWED_CLIENT_APPS does not admit (it could never call).
        ConfigurationError: the settings are invalid (checked now, at import).
    """
    settings = runtime.settings()
    requirement = build_requirement(
        scopes=scopes,
        roles=roles,
        app_roles=app_roles,
        permissions=permissions,
        groups=groups,
        auth_context=auth_context,
        allow_app_only=allow_app_only,
        allow_guests=settings.allow_guests if allow_guests is None else allow_guests,
        permission_map=runtime.permissions(),
        clients=clients,
    )
    shut_out = requirement.clients - settings.allowed_client_apps if settings.allowed_client_apps else frozenset()
    if shut_out:
        raise ValueError(
            f"require_auth(clients=...) names {', '.join(sorted(shut_out))}, which ENTRA_ALLOWED_CLIENT_APPS does not "
            "admit: no call through it could reach this function. Add it to the app setting, or drop it here."
        )

    # The wrapper's parameters differ from the function's (no principal): typed as Callable[..., R].
    def decorate(function: Callable[..., R]) -> Callable[..., R]:
        refuse_unless_plain_function(function, "require_auth")
        # Settings problems surface at load, not on the first request (building does no I/O).
        limiter = runtime.current().rate_limiter
        limits = _limits(limiter.settings.default if rate_limit is None else rate_limit)
        if limits:
            # A store URL the client cannot use fails the import, not every call.
            limiter.prepare()
        signature = inspect.signature(function)
        wants_principal = _check_parameters(function, signature)
        name = FunctionName(function.__name__)
        gate = RateGate(name, limits) if limits else None
        wants_context = CONTEXT_PARAMETER in signature.parameters
        wrapper = _wrap(
            function, name, requirement, wants_principal, _request_parameter(signature), gate, wants_context
        )
        # The worker binds parameters by name and evaluates every annotation: hide ours from both. It
        # passes its invocation context to a parameter named context: ours too, for the host's trace.
        parameters = [p for p in signature.parameters.values() if p.name != PRINCIPAL_PARAMETER]
        if not wants_context:
            parameters.append(inspect.Parameter(CONTEXT_PARAMETER, inspect.Parameter.KEYWORD_ONLY, default=None))
        wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {
            name: value for name, value in function.__annotations__.items() if name != PRINCIPAL_PARAMETER
        }
        mark(wrapper, requirement)
        attach_name(wrapper, name)
        return wrapper

    return decorate


def allow_anonymous(function: F) -> F:
    """Mark an HTTP function as deliberately open to anonymous callers.

    Raises:
        TypeError: stacked above ``@app.route`` or applied to something else.
    """
    refuse_unless_plain_function(function, "allow_anonymous")
    mark(function, ANONYMOUS)
    return function


def _check_parameters(function: Callable[..., Any], signature: inspect.Signature) -> bool:
    parameters = signature.parameters
    if not any(name not in _HOST_PARAMETERS for name in parameters):
        raise TypeError(f"{function.__name__} needs its HttpRequest parameter to be protected")
    principal = parameters.get(PRINCIPAL_PARAMETER)
    if principal is None:
        return False
    if principal.kind not in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
        raise TypeError(f"{function.__name__}: 'principal' must be an ordinary or keyword-only parameter")
    return True


def _request_parameter(signature: inspect.Signature) -> str:
    """The parameter the worker binds the HttpRequest to: annotated so, or the first one."""
    names = [name for name in signature.parameters if name not in _HOST_PARAMETERS]
    for name in names:
        annotation = signature.parameters[name].annotation
        if annotation is func.HttpRequest or (isinstance(annotation, str) and annotation.endswith("HttpRequest")):
            return name
    return names[0]


def _limits(notation: str) -> tuple[RateLimitItem, ...]:
    return parse_limits(notation, "require_auth(rate_limit=...)") if notation else ()


def _wrap(
    function: Callable[..., Any],
    name: FunctionName,
    requirement: Requirement,
    wants_principal: bool,
    request_name: str,
    gate: RateGate | None,
    wants_context: bool,
) -> Callable[..., Any]:
    authorize = authorizer_of(name, requirement)
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            invocation = kwargs.get(CONTEXT_PARAMETER) if wants_context else kwargs.pop(CONTEXT_PARAMETER, None)
            request = _find_request(request_name, args, kwargs)
            trace = begin_decision(name, invocation)
            try:
                outcome = authorize(request, False, trace)
            except WouldBlock:
                # A cold fetch runs on a worker thread so the event loop keeps serving.
                outcome = await asyncio.to_thread(authorize, request, True, trace)
            if type(outcome) is not Principal:
                return outcome
            if gate is not None:
                verdict = await gate.check_async(outcome)
                if not verdict.admitted:
                    return gate.refusal(verdict, outcome)
            serving = None
            if wants_principal:
                kwargs[PRINCIPAL_PARAMETER] = outcome
                # The caller's token, for on-behalf-of, for as long as this call runs and no longer.
                serving = begin(outcome, _authorization(request))
            try:
                result = await function(*args, **kwargs)
            except DownstreamError as error:
                return refuse_downstream(name.value, error, outcome)
            finally:
                if serving is not None:
                    end(serving)
            return result if gate is None else gate.annotate(result, verdict)

        return async_wrapper

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        invocation = kwargs.get(CONTEXT_PARAMETER) if wants_context else kwargs.pop(CONTEXT_PARAMETER, None)
        request = _find_request(request_name, args, kwargs)
        outcome = authorize(request, True, begin_decision(name, invocation))
        if type(outcome) is not Principal:
            return outcome
        if gate is not None:
            verdict = gate.check(outcome)
            if not verdict.admitted:
                return gate.refusal(verdict, outcome)
        serving = None
        if wants_principal:
            kwargs[PRINCIPAL_PARAMETER] = outcome
            # The caller's token, for on-behalf-of, for as long as this call runs and no longer.
            serving = begin(outcome, _authorization(request))
        try:
            result = function(*args, **kwargs)
        except DownstreamError as error:
            return refuse_downstream(name.value, error, outcome)
        finally:
            if serving is not None:
                end(serving)
        return result if gate is None else gate.annotate(result, verdict)

    return wrapper


def _authorization(request: func.HttpRequest | None) -> str:
    # Only reached for an admitted caller, whose request carried the header.
    return (request.headers.get("Authorization") if request is not None else None) or ""


# The request classes seen: func.HttpRequest, and the worker's subclass (azure.functions.http's).
_request_types: set[type] = {func.HttpRequest}


def _find_request(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> func.HttpRequest | None:
    # The worker passes keyword arguments; direct callers may pass the request positionally.
    # func.HttpRequest is an ABC, whose isinstance is slower: the exact types seen are tried first.
    value = kwargs.get(name)
    if type(value) in _request_types:
        return cast(func.HttpRequest, value)
    for value in args:
        if type(value) in _request_types:
            return cast(func.HttpRequest, value)
    # A request under another name, or of a class not seen yet: the ABC check.
    for value in (*kwargs.values(), *args):
        if isinstance(value, func.HttpRequest):
            # Only subclasses of the ABC get here, and a process has few of them.
            _request_types.add(type(value))
            return value
    return None
