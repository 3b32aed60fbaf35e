"""A local development server for HTTP functions. Not the Functions host: `func start` is that.

It routes as the host does (route templates, routePrefix from host.json), converts requests and
responses with the azure-functions SDK's own converters exactly as the Python worker does, and
answers CORS preflights itself from Host.CORS in local.settings.json, as Core Tools does (the
function never sees OPTIONS).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func
from azure.functions import meta
from azure.functions.http import HttpRequestConverter, HttpResponseConverter

from .._functions.host_json import DEFAULT_ROUTE_PREFIX, route_prefix
from ._threaded import ThreadedHttpServer


@dataclass(frozen=True)
class Route:
    name: str
    pattern: re.Pattern[str]
    methods: frozenset[str]
    parameter: str
    handler: Callable[..., Any]


@dataclass(frozen=True)
class CorsPolicy:
    """Host.CORS and Host.CORSCredentials of local.settings.json."""

    origins: frozenset[str]
    credentials: bool = False

    @classmethod
    def from_local_settings(cls, *paths: Path) -> CorsPolicy:
        for path in paths:
            if path.is_file():
                host = json.loads(path.read_text()).get("Host", {})
                origins = [origin.strip() for origin in str(host.get("CORS", "")).split(",") if origin.strip()]
                return cls(frozenset(origins), bool(host.get("CORSCredentials", False)))
        return cls(frozenset())

    def allows(self, origin: str | None) -> bool:
        return origin is not None and ("*" in self.origins or origin in self.origins)

    def headers_for(self, origin: str) -> dict[str, str]:
        allow = "*" if "*" in self.origins and not self.credentials else origin
        headers = {"Access-Control-Allow-Origin": allow, "Vary": "Origin"}
        if self.credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        return headers


def routes_of(functions: Iterable[func.Function], route_prefix: str) -> list[Route]:
    """The HTTP routes of indexed functions, longest literal prefix first as the host orders them."""
    routes = []
    for function in functions:
        bindings = json.loads(function.get_function_json())["bindings"]
        trigger = next((binding for binding in bindings if binding["type"] == "httpTrigger"), None)
        if trigger is None:
            continue
        template = "/".join(
            part for part in (route_prefix, trigger.get("route") or function.get_function_name()) if part
        )
        methods = frozenset(
            method.upper() for method in trigger.get("methods") or ["GET", "POST", "PUT", "DELETE", "PATCH"]
        )
        routes.append(
            Route(
                str(function.get_function_name()),
                _compile(template),
                methods,
                trigger["name"],
                function.get_user_function(),
            )
        )
    return sorted(routes, key=lambda route: -len(route.pattern.pattern.split("(?P")[0]))


def route_prefix_of(host_json: Path) -> str:
    return route_prefix(host_json) if host_json.is_file() else DEFAULT_ROUTE_PREFIX


def _compile(template: str) -> re.Pattern[str]:
    pattern = ""
    for segment in template.strip("/").split("/"):
        parameter = re.fullmatch(r"\{\*?([A-Za-z_][A-Za-z0-9_]*)(?::[^}?]*)?(\?)?\}", segment)
        if parameter:
            optional = parameter.group(2) is not None
            pattern += f"(?:/(?P<{parameter.group(1)}>[^/]+)){'?' if optional else ''}"
        else:
            pattern += "/" + re.escape(segment)
    return re.compile(pattern or "/", re.IGNORECASE)


class DevServer:
    """Serves routes on 127.0.0.1; start() and stop() own it."""

    def __init__(self, routes: list[Route], cors: CorsPolicy, port: int = 0) -> None:
        self.routes = routes
        self.cors = cors
        # (method, path) of every exchange, preflights included: what a browser really sent.
        self.exchanges: list[tuple[str, str]] = []
        self._http = ThreadedHttpServer(_handler_for(self), port)
        # Async functions run on one event loop, as the worker runs them.
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return self._http.url

    def start(self) -> DevServer:
        self._http.start()
        self._loop_thread.start()
        return self

    def stop(self) -> None:
        self._http.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop_thread.join(timeout=5)
        self._loop.close()

    def serve(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTP exchange: CORS, routing, conversion, invocation."""
        self.exchanges.append((method, urlsplit(target).path))
        origin = headers.get("origin")
        if method == "OPTIONS" and "access-control-request-method" in headers:
            return self._preflight(origin, headers)
        parts = urlsplit(target)
        path_known = False
        for route in self.routes:
            match = route.pattern.fullmatch(parts.path)
            if match is None:
                continue
            path_known = True
            # One route template may serve several functions, one per method.
            if method not in route.methods:
                continue
            request = _as_worker_request(method, target, headers, body, match.groupdict(), parts.query)
            status, response_headers, response_body = self._invoke(route, request)
            if self.cors.allows(origin):
                response_headers.update(self.cors.headers_for(str(origin)))
            return status, response_headers, response_body
        return (405 if path_known else 404), {}, b""

    def _preflight(self, origin: str | None, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if not self.cors.allows(origin):
            # As ASP.NET Core does: a preflight without the CORS headers, so the browser refuses.
            return 204, {}, b""
        allowed = self.cors.headers_for(str(origin))
        allowed["Access-Control-Allow-Methods"] = headers["access-control-request-method"]
        if "access-control-request-headers" in headers:
            allowed["Access-Control-Allow-Headers"] = headers["access-control-request-headers"]
        return 204, allowed, b""

    def _invoke(self, route: Route, request: func.HttpRequest) -> tuple[int, dict[str, str], bytes]:
        arguments = {route.parameter: request}
        if asyncio.iscoroutinefunction(route.handler):
            result = asyncio.run_coroutine_threadsafe(route.handler(**arguments), self._loop).result()
        else:
            result = route.handler(**arguments)
        datum = HttpResponseConverter.encode(result, expected_type=None)
        if datum.type == "string":
            return 200, {"Content-Type": "text/plain; charset=utf-8"}, str(datum.value).encode()
        value = datum.value
        headers = {name: str(header.value) for name, header in value["headers"].items()}
        return int(value["status_code"].value), headers, bytes(value["body"].value)


def _as_worker_request(
    method: str, target: str, headers: dict[str, str], body: bytes, params: dict[str, str | None], query: str
) -> func.HttpRequest:
    """The request as the worker builds it from the host's RpcHttp message."""
    datum = meta.Datum(
        type="http",
        value={
            "method": meta.Datum(method, "string"),
            "url": meta.Datum(f"http://{headers.get('host', '127.0.0.1')}{target}", "string"),
            "headers": {name: meta.Datum(value, "string") for name, value in headers.items()},
            "body": meta.Datum(body, "bytes"),
            "params": {name: meta.Datum(value, "string") for name, value in params.items() if value is not None},
            "query": {name: meta.Datum(value, "string") for name, value in parse_qsl(query)},
        },
    )
    request: func.HttpRequest = HttpRequestConverter.decode(datum, trigger_metadata={})
    return request


def _handler_for(server: DevServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _exchange(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            # The host joins repeated headers with a comma; names compare case-insensitively.
            headers: dict[str, str] = {}
            for name, value in self.headers.items():
                key = name.lower()
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
            status, response_headers, response_body = server.serve(self.command, self.path, headers, body)
            self.send_response(status)
            for name, value in response_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response_body)))
            self.end_headers()
            self.wfile.write(response_body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _exchange  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
