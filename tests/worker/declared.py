"""The HTTP functions function_app.py declares, read from its source without importing it.

The contract test compares this reading with what the real worker indexes, so a function the
worker silently drops (an unregistered blueprint, say) shows up as missing.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

# authorizer.FunctionApp.serve_protected_resource_metadata() registers this one itself (RFC 9728).
METADATA_FUNCTION = "oauth_protected_resource"
METADATA_ROUTE = ".well-known/oauth-protected-resource"


@dataclass(frozen=True)
class Route:
    route: str
    methods: tuple[str, ...]
    protected: bool
    is_async: bool


def declared_routes(source: Path) -> dict[str, Route]:
    """Each module-level function under an ``@<app or blueprint>.route(route=..., methods=...)``."""
    tree = ast.parse(source.read_text())
    routes: dict[str, Route] = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        decorators = {_callee(decorator): decorator for decorator in node.decorator_list}
        route = decorators.get("route")
        if isinstance(route, ast.Call):
            options = {keyword.arg: ast.literal_eval(keyword.value) for keyword in route.keywords}
            routes[node.name] = Route(
                route=options["route"],
                methods=tuple(options["methods"]),
                protected="require_auth" in decorators,
                is_async=isinstance(node, ast.AsyncFunctionDef),
            )
    if any(_callee(node) == "serve_protected_resource_metadata" for node in ast.walk(tree)):
        routes[METADATA_FUNCTION] = Route(METADATA_ROUTE, ("GET",), protected=False, is_async=False)
    return routes


def _callee(node: ast.AST) -> str:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else ""
