"""require_auth and allow_anonymous: what the worker sees, and what a caller gets."""

from __future__ import annotations

import asyncio
import inspect
import json
import typing
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import azure.functions as func
import pytest

import authorizer
from authorizer import Principal, UnprotectedFunctionError, require_auth
from tests.conftest import ConfigureAuth, http_request
from tests.support.clock import FakeClock
from tests.support.entra import USER_OID
from tests.support.issuer import HOLD, LocalIssuer
from tests.support.modules import import_module_from

T = TypeVar("T")


@pytest.fixture
def auth(configure_auth: ConfigureAuth) -> ConfigureAuth:
    return configure_auth


def test_the_principal_reaches_a_sync_function(auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock) -> None:
    @require_auth(scopes=["Orders.Read"])
    def handler(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
        return func.HttpResponse(json.dumps({"oid": principal.oid, "scopes": sorted(principal.scopes)}))

    response = handler(req=http_request(issuer.token(clock())))
    assert response.status_code == 200
    assert json.loads(response.get_body()) == {"oid": USER_OID, "scopes": ["Orders.Read"]}


def test_the_principal_reaches_an_async_function(auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock) -> None:
    @require_auth()
    async def handler(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
        return func.HttpResponse(principal.tid)

    assert inspect.iscoroutinefunction(handler)
    response = asyncio.run(handler(req=http_request(issuer.token(clock()))))
    assert response.status_code == 200


def test_a_function_without_a_principal_parameter_runs_unchanged(
    auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    @require_auth()
    def handler(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("plain")

    assert handler(http_request(issuer.token(clock()))).get_body() == b"plain"


class TracedRequest(func.HttpRequest):
    """A request type of another library or middleware: a subclass, not func.HttpRequest itself."""


@pytest.mark.parametrize("how", ["keyword", "positional"])
def test_a_request_subclass_is_found_however_it_is_passed(
    auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock, how: str
) -> None:
    @require_auth()
    def handler(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
        return func.HttpResponse(principal.tid)

    request = TracedRequest(
        method="GET",
        url="http://localhost/api/orders",
        headers={"Authorization": f"Bearer {issuer.token(clock())}"},
        body=b"",
    )
    calls: dict[str, Callable[[], func.HttpResponse]] = {
        "keyword": lambda: handler(req=request),
        "positional": lambda: handler(request),
    }
    forged = TracedRequest(method="GET", url="http://localhost/", headers={"Authorization": "Bearer a.b.c"}, body=b"")
    assert calls[how]().status_code == 200
    assert handler(req=forged).status_code == 401


def test_the_worker_sees_neither_the_principal_parameter_nor_its_annotation(auth: ConfigureAuth) -> None:
    @require_auth()
    def handler(req: func.HttpRequest, context: func.Context, principal: Principal) -> func.HttpResponse:
        raise AssertionError("not called")

    assert list(inspect.signature(handler).parameters) == ["req", "context"]
    assert set(typing.get_type_hints(handler)) == {"req", "context", "return"}
    assert handler.__name__ == "handler"


def test_refusals_never_call_the_function(auth: ConfigureAuth) -> None:
    calls: list[str] = []

    @require_auth()
    def handler(req: func.HttpRequest) -> func.HttpResponse:
        calls.append("called")
        return func.HttpResponse("secret")

    assert handler(http_request()).status_code == 401
    assert handler(http_request("not.a.token")).status_code == 401
    assert calls == []


def test_an_async_function_never_blocks_the_event_loop_on_a_cold_fetch(
    auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    @require_auth()
    async def handler(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    token = issuer.token(clock())
    issuer.fault("metadata-v2", HOLD)

    async def scenario() -> int:
        call = asyncio.create_task(handler(req=http_request(token)))
        # This await completes only if the loop keeps running while the fetch is held.
        arrived = await asyncio.to_thread(issuer.wait_for_requests, "metadata-v2", 1, 5)
        assert arrived
        assert not call.done()
        issuer.fault("metadata-v2", None)
        issuer.release_stalls()
        return int((await call).status_code)

    assert asyncio.run(scenario()) == 200


def test_a_warm_async_call_stays_on_the_event_loop(auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock) -> None:
    @require_auth()
    async def handler(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    executor = CountingExecutor(max_workers=1)

    async def scenario() -> tuple[int, int]:
        asyncio.get_running_loop().set_default_executor(executor)
        await handler(req=http_request(issuer.token(clock())))
        cold_hops = executor.submitted
        response = await handler(req=http_request(issuer.token(clock())))
        assert response.status_code == 200
        return cold_hops, executor.submitted - cold_hops

    cold_hops, warm_hops = asyncio.run(scenario())
    assert cold_hops == 1
    assert warm_hops == 0


class CountingExecutor(ThreadPoolExecutor):
    submitted = 0

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


@pytest.mark.parametrize("decorator", ["require_auth", "allow_anonymous"])
def test_stacked_above_app_route_it_refuses_at_import(decorator: str, tmp_path: Path, auth: ConfigureAuth) -> None:
    source = f"""
        import azure.functions as func
        from authorizer import allow_anonymous, require_auth

        app = func.FunctionApp()

        @{"require_auth()" if decorator == "require_auth" else "allow_anonymous"}
        @app.route(route="orders")
        def orders(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("open")
    """
    with pytest.raises(TypeError) as caught:
        import_module_from(tmp_path, "wrong_order_app", source)
    message = str(caught.value)
    assert "stacked above @app.route" in message
    assert "Put @" in message


def test_above_a_checked_route_the_message_names_the_stacking_mistake(tmp_path: Path, auth: ConfigureAuth) -> None:
    source = """
        import azure.functions as func
        import authorizer

        app = authorizer.FunctionApp()

        @authorizer.require_auth()
        @app.route(route="orders")
        def orders(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("open")
    """
    with pytest.raises(TypeError) as caught:
        import_module_from(tmp_path, "stacked_app", source)
    assert "stacked above @app.route" in str(caught.value)


def test_an_unprotected_route_fails_at_import(tmp_path: Path, auth: ConfigureAuth) -> None:
    source = """
        import azure.functions as func
        import authorizer

        app = authorizer.FunctionApp()

        @app.route(route="forgotten")
        def forgotten(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("open to all")
    """
    with pytest.raises(UnprotectedFunctionError) as caught:
        import_module_from(tmp_path, "unprotected_app", source)
    assert "'forgotten'" in str(caught.value)


def test_an_unprotected_function_on_a_plain_blueprint_fails_at_indexing(tmp_path: Path, auth: ConfigureAuth) -> None:
    source = """
        import azure.functions as func
        import authorizer

        bp = func.Blueprint()

        @bp.route(route="sneaky")
        def sneaky(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("open")

        app = authorizer.FunctionApp()
        app.register_functions(bp)
    """
    module = import_module_from(tmp_path, "blueprint_app", source)
    with pytest.raises(UnprotectedFunctionError) as caught:
        module.app.get_functions()
    assert "'sneaky'" in str(caught.value)


def test_protected_and_anonymous_functions_index_cleanly(tmp_path: Path, auth: ConfigureAuth) -> None:
    source = """
        from __future__ import annotations

        from typing import TYPE_CHECKING

        import azure.functions as func
        import authorizer
        from authorizer import allow_anonymous, require_auth

        if TYPE_CHECKING:
            from authorizer import Principal

        app = authorizer.FunctionApp()
        bp = authorizer.Blueprint()

        @app.function_name("renamed")
        @app.route(route="a")
        @require_auth(scopes=["A"])
        def a(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
            return func.HttpResponse("a")

        @bp.route(route="b")
        @require_auth()
        async def b(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
            return func.HttpResponse("b")

        @app.route(route="open")
        @allow_anonymous
        def open_(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("open")

        app.register_functions(bp)
    """
    module = import_module_from(tmp_path, "clean_app", source)
    functions = module.app.get_functions()
    assert [function.get_function_name() for function in functions] == ["renamed", "open_", "b"]
    for function in functions:
        user_function = function.get_user_function()
        assert "principal" not in inspect.signature(user_function).parameters
        assert "principal" not in typing.get_type_hints(user_function)


def test_a_plain_function_app_can_be_checked_explicitly(auth: ConfigureAuth) -> None:
    app = func.FunctionApp()

    @app.route(route="open")
    def unprotected(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("open")

    with pytest.raises(UnprotectedFunctionError):
        authorizer.verify_protected(app.get_functions())


def test_the_function_app_turns_function_keys_off_by_default(auth: ConfigureAuth) -> None:
    assert authorizer.FunctionApp().auth_level == func.AuthLevel.ANONYMOUS


def test_bad_requirements_fail_at_decoration(auth: ConfigureAuth) -> None:
    with pytest.raises(TypeError):
        require_auth(scopes="Orders.Read")
    with pytest.raises(ValueError):
        require_auth(scopes=[""])
    with pytest.raises(TypeError):

        @require_auth()
        def no_request(principal: Principal) -> func.HttpResponse:
            raise AssertionError


def test_invalid_settings_fail_at_decoration_naming_the_setting(issuer: LocalIssuer) -> None:
    authorizer.configure(environ={"ENTRA_TENANT_ID": "not-a-guid"})
    try:
        with pytest.raises(authorizer.ConfigurationError) as caught:

            @require_auth()
            def handler(req: func.HttpRequest) -> func.HttpResponse:
                raise AssertionError

        assert caught.value.setting == "ENTRA_TENANT_ID"
    finally:
        authorizer.configure(environ=None, clock=None, tenant_policy=None)


def test_an_http_function_declared_as_a_generic_trigger_is_checked_too(tmp_path: Path, auth: ConfigureAuth) -> None:
    # generic_trigger(type="httpTrigger") builds a GenericTrigger, not an HttpTrigger: same host binding.
    source = """
        import azure.functions as func
        import authorizer

        app = authorizer.FunctionApp()

        @app.function_name("generic")
        @app.generic_trigger(arg_name="req", type="httpTrigger", route="generic", methods=["GET"])
        @app.generic_output_binding(arg_name="$return", type="http")
        def generic(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("open to all")
    """
    module = import_module_from(tmp_path, "generic_trigger_app", source)
    with pytest.raises(UnprotectedFunctionError) as caught:
        module.app.get_functions()
    assert "'generic'" in str(caught.value)
    plain = import_module_from(
        tmp_path, "generic_trigger_plain", source.replace("authorizer.FunctionApp()", "func.FunctionApp()")
    )
    with pytest.raises(UnprotectedFunctionError):
        authorizer.verify_protected(plain.app.get_functions())


def test_a_protected_route_that_demands_a_function_key_fails_at_import(tmp_path: Path, auth: ConfigureAuth) -> None:
    source = """
        import azure.functions as func
        import authorizer

        app = authorizer.FunctionApp()

        @app.route(route="orders", auth_level=func.AuthLevel.FUNCTION)
        @authorizer.require_auth(scopes=["Orders.Read"])
        def orders(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("orders")
    """
    # It once indexed as FUNCTION: the host then refused every browser call before the token was checked.
    with pytest.raises(authorizer.FunctionKeyRouteError) as caught:
        import_module_from(tmp_path, "keyed_route_app", source)
    # The fix that applies: this app already is an authorizer.FunctionApp, its route asks for the key.
    assert "'orders'" in str(caught.value) and "remove auth_level" in caught.value.fix
    assert "Use authorizer.FunctionApp()" not in str(caught.value)


def test_an_authorizer_app_told_to_demand_function_keys_is_told_to_stop_not_to_become_one(
    tmp_path: Path, auth: ConfigureAuth
) -> None:
    source = """
        import azure.functions as func
        import authorizer

        app = authorizer.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

        @app.route(route="orders")
        @authorizer.require_auth(scopes=["Orders.Read"])
        def orders(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("orders")
    """
    module = import_module_from(tmp_path, "keyed_authorizer_app", source)
    with pytest.raises(authorizer.FunctionKeyRouteError) as caught:
        module.app.get_functions()
    # Once "Use authorizer.FunctionApp()", to an app that already was one.
    assert "Use authorizer.FunctionApp()" not in str(caught.value)
    assert "http_auth_level" in str(caught.value)


def test_a_plain_function_app_keeps_function_keys_and_is_refused_at_indexing(
    tmp_path: Path, auth: ConfigureAuth
) -> None:
    source = """
        import azure.functions as func
        import authorizer

        app = func.FunctionApp()
        bp = authorizer.Blueprint()

        @bp.route(route="orders")
        @authorizer.require_auth(scopes=["Orders.Read"])
        def orders(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("orders")

        @app.route(route="hook", auth_level=func.AuthLevel.FUNCTION)
        @authorizer.allow_anonymous
        def hook(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("a function key is this one's only gate, and that is allowed")

        app.register_functions(bp)
    """
    module = import_module_from(tmp_path, "plain_keyed_app", source)
    with pytest.raises(authorizer.FunctionKeyRouteError) as caught:
        authorizer.verify_protected(module.app.get_functions())
    assert "'orders'" in str(caught.value) and "Use authorizer.FunctionApp()" in str(caught.value)
