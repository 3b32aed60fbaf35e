"""Secure-by-default function apps: an HTTP function must be protected or marked anonymous."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import azure.functions as func
from azure.functions.decorators.core import Trigger
from azure.functions.decorators.function_app import FunctionBuilder

from .._errors import ConfigurationError, TemporarilyUnavailable
from .._policy.requirements import Requirement
from .._token.validation import expected_issuer
from . import resource_metadata, runtime
from .answers import SECURITY_HEADERS, answer_for, to_http_response
from .decorator import allow_anonymous
from .host_json import ROOT_ROUTES_FIX, find_host_json, route_prefix
from .markers import name_of, protection_of

HTTP_TRIGGER = "httptrigger"
ANONYMOUS_LEVEL = "anonymous"
# The fix for a protected function behind a function key, by where the key came from.
FUNCTION_KEY_FIX = (
    "Use authorizer.FunctionApp() (anonymous by default) and remove auth_level from the route: the Entra "
    "token is the gate."
)
ROUTE_KEY_FIX = "remove auth_level=... from this route: the Entra token is the gate."
APP_KEY_FIX = (
    "remove http_auth_level=... from authorizer.FunctionApp(...) (anonymous by default) and any auth_level=... "
    "from the route: the Entra token is the gate."
)


class UnprotectedFunctionError(TypeError):
    """An HTTP function carries neither @require_auth nor @allow_anonymous."""


class FunctionKeyRouteError(TypeError):
    """A @require_auth function whose route demands a function key: a second gate no browser can pass.

    ``fix`` says what to change in this app (the route, the app's level, or the kind of app).
    """

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(f"{message} {fix[0].upper()}{fix[1:]}")
        self.fix = fix


def _refuse_unmarked(function: object, name: str) -> None:
    if protection_of(function) is None:
        raise UnprotectedFunctionError(
            f"HTTP function {name!r} has neither @require_auth(...) nor @allow_anonymous directly under "
            "its @app.route(...) line. Add one there; a decorator stacked above @app.route does not count."
        )


def _refuse_function_key(function: object, name: str, level: object, fix: str) -> None:
    if isinstance(protection_of(function), Requirement) and _level_name(level) != ANONYMOUS_LEVEL:
        raise FunctionKeyRouteError(
            f"HTTP function {name!r} is protected by @require_auth, but its route keeps auth level "
            f"{_level_name(level).upper()}: the Functions host would demand a function key before the token is "
            "checked, and a browser app cannot keep one secret.",
            fix,
        )


def _level_name(level: object) -> str:
    # An AuthLevel, its name, or nothing (the host's default for an HTTP trigger is FUNCTION).
    name = getattr(level, "name", level) or "function"
    return str(name).lower()


def verify_protected(functions: Iterable[func.Function], *, authorizer_app: bool = False) -> None:
    """Check every HTTP-triggered function of an indexed app (``authorizer_app``: an authorizer.FunctionApp's).

    Raises:
        UnprotectedFunctionError: naming the first unprotected function.
        FunctionKeyRouteError: naming the first protected function whose route demands a function key.
    """
    for function in functions:
        if is_http_function(function):
            user_function, name = function.get_user_function(), str(function.get_function_name())
            _refuse_unmarked(user_function, name)
            trigger = function.get_trigger()
            level = trigger.get_dict_repr().get("authLevel") if trigger else None
            _refuse_function_key(user_function, name, level, APP_KEY_FIX if authorizer_app else FUNCTION_KEY_FIX)


def name_functions(functions: Iterable[func.Function]) -> None:
    """Give each protected function the name the host indexed it under (rate-limit keys, logs)."""
    for function in functions:
        name = name_of(function.get_user_function())
        if name is not None:
            name.value = str(function.get_function_name())


def is_http_function(function: func.Function) -> bool:
    """Judged by the binding type the host reads: @app.route and generic_trigger(type="httpTrigger") alike."""
    trigger: Trigger | None = function.get_trigger()
    # The host compares binding types case-insensitively.
    return trigger is not None and str(trigger.type).lower() == HTTP_TRIGGER


class _CheckedRoutes:
    """Checks at decoration time, so a forgotten decorator or a second gate fails the import itself."""

    def route(self, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        register: Callable[..., Any] = super().route(*args, **kwargs)  # type: ignore[misc]
        # Without one, the level is the app's, known for certain only at indexing (blueprints).
        level = kwargs.get("auth_level")

        def checked(target: Any) -> Any:
            # A FunctionBuilder (another @app decorator in between) is checked at indexing.
            if callable(target) and not isinstance(target, FunctionBuilder):
                name = getattr(target, "__name__", repr(target))
                _refuse_unmarked(target, name)
                if level is not None:
                    _refuse_function_key(target, name, level, ROUTE_KEY_FIX)
            return register(target)

        return checked


class FunctionApp(_CheckedRoutes, func.FunctionApp):
    """A ``func.FunctionApp`` whose HTTP functions must each carry require_auth or allow_anonymous.

    Function keys default to off (``AuthLevel.ANONYMOUS``): Entra tokens are the gate, and a
    browser app cannot keep a function key secret anyway.
    """

    def __init__(self, http_auth_level: func.AuthLevel | str = func.AuthLevel.ANONYMOUS) -> None:
        super().__init__(http_auth_level=http_auth_level)

    def serve_protected_resource_metadata(self) -> None:
        """Serve RFC 9728 metadata, anonymously, at /.well-known/oauth-protected-resource.

        The RFC puts the document at the site root, so host.json must set routePrefix to "" (and
        the app's routes then spell out any "api/" themselves).

        Raises:
            ConfigurationError: host.json keeps a route prefix, under which the document would be
                served where no client looks for it.
        """
        host_json = find_host_json()
        prefix = route_prefix(host_json) if host_json is not None else ""
        if prefix:
            raise ConfigurationError(
                "routePrefix",
                f"{host_json} puts every route under /{prefix}/, but the RFC 9728 document belongs at the site "
                f"root. {ROOT_ROUTES_FIX}",
            )
        app = self
        runtime.serve_metadata()

        @self.route(route=resource_metadata.ROUTE, methods=["GET"])
        @allow_anonymous
        def oauth_protected_resource(req: func.HttpRequest) -> func.HttpResponse:
            return resource_metadata_response(app.required_scopes())

    def required_scopes(self) -> set[str]:
        """Every delegated scope that would satisfy some function of this app (blueprints included)."""
        scopes: set[str] = set()
        # The SDK keeps decorated functions in its builders; there is no public accessor.
        for builder in self._function_builders:
            protection = protection_of(builder._function.get_user_function())
            if isinstance(protection, Requirement):
                scopes.update(protection.challenge_scopes())
        return scopes

    def get_functions(self) -> list[func.Function]:
        """Index the app as the worker does, refusing any unprotected HTTP function.

        Raises:
            UnprotectedFunctionError: so the worker fails to load the app instead of serving it open.
        """
        functions: list[func.Function] = super().get_functions()
        verify_protected(functions, authorizer_app=True)
        name_functions(functions)
        # The worker indexes at start-up: warm the keys now, off the request path.
        if any(isinstance(protection_of(function.get_user_function()), Requirement) for function in functions):
            runtime.prefetch()
        return functions


class Blueprint(_CheckedRoutes, func.Blueprint):
    """A ``func.Blueprint`` with the same decoration-time check as FunctionApp."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]


def resource_metadata_response(scopes: set[str]) -> func.HttpResponse:
    """The RFC 9728 document, 404 when no resource URL is configured, 503 when discovery is down."""
    settings = runtime.settings()
    if settings.resource_url is None:
        body = {"error": "not_configured", "error_description": "Set PROTECTED_RESOURCE_URL to this API's URL."}
        return func.HttpResponse(
            json.dumps(body), status_code=404, headers={"Content-Type": "application/json", **SECURITY_HEADERS}
        )
    authority = runtime.current().authenticator.authority
    try:
        template = authority.issuer_template("2.0", allow_io=True)
    except TemporarilyUnavailable as error:
        return to_http_response(answer_for(error, settings))
    issuer = expected_issuer(template, settings.tenant_id)
    document = resource_metadata.protected_resource_document(settings, scopes, issuer)
    return func.HttpResponse(
        resource_metadata.document_body(document),
        status_code=200,
        # Not cached either: the document follows the settings (scopes, the resource URL) as they change.
        headers={"Content-Type": "application/json", **SECURITY_HEADERS},
    )
