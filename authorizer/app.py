"""Secure-by-default function apps: an HTTP function must be protected or marked anonymous."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import azure.functions as func
from azure.functions.decorators.core import Trigger
from azure.functions.decorators.function_app import FunctionBuilder

from . import resource_metadata, runtime
from .answers import answer_for
from .decorator import allow_anonymous, to_http_response
from .errors import TemporarilyUnavailable
from .markers import protection_of
from .policy import Requirement
from .validation import expected_issuer

HTTP_TRIGGER = "httptrigger"


class UnprotectedFunctionError(TypeError):
    """An HTTP function carries neither @require_auth nor @allow_anonymous."""


def _refuse_unmarked(function: object, name: str) -> None:
    if protection_of(function) is None:
        raise UnprotectedFunctionError(
            f"HTTP function {name!r} has neither @require_auth(...) nor @allow_anonymous directly under "
            "its @app.route(...) line. Add one there; a decorator stacked above @app.route does not count."
        )


def verify_protected(functions: Iterable[func.Function]) -> None:
    """Check every HTTP-triggered function of an indexed app.

    Raises:
        UnprotectedFunctionError: naming the first unprotected function.
    """
    for function in functions:
        if is_http_function(function):
            _refuse_unmarked(function.get_user_function(), str(function.get_function_name()))


def is_http_function(function: func.Function) -> bool:
    """Judged by the binding type the host reads: @app.route and generic_trigger(type="httpTrigger") alike."""
    trigger: Trigger | None = function.get_trigger()
    # The host compares binding types case-insensitively.
    return trigger is not None and str(trigger.type).lower() == HTTP_TRIGGER


class _CheckedRoutes:
    """Checks at decoration time, so a forgotten decorator fails the import itself."""

    def route(self, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        register: Callable[..., Any] = super().route(*args, **kwargs)  # type: ignore[misc]

        def checked(target: Any) -> Any:
            # A FunctionBuilder (another @app decorator in between) is checked at indexing.
            if callable(target) and not isinstance(target, FunctionBuilder):
                _refuse_unmarked(target, getattr(target, "__name__", repr(target)))
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

        host.json must keep routePrefix "" so that the document sits at the site root, where the
        RFC puts it for a resource identifier without a path.
        """
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
        verify_protected(functions)
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
        return func.HttpResponse(json.dumps(body), status_code=404, mimetype="application/json")
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
        headers={"Content-Type": "application/json", "Cache-Control": "public, max-age=3600"},
    )
