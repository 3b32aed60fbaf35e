"""How a function records that it is protected, or deliberately anonymous."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .._policy.requirements import Requirement

_MARK = "__authorizer_protection__"
_NAME = "__authorizer_function_name__"
ANONYMOUS = "anonymous"


class FunctionName:
    """A protected function's name as the host knows it: its Python name until the app is indexed.

    Rate-limit keys and decision logs read it on every call; indexing sets the host's name
    (``@app.function_name``, blueprints included), which is unique within the app.
    """

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value


def attach_name(function: Callable[..., Any], name: FunctionName) -> None:
    setattr(function, _NAME, name)


def name_of(function: object) -> FunctionName | None:
    value = getattr(function, _NAME, None)
    return value if isinstance(value, FunctionName) else None


def mark(function: Callable[..., Any], protection: Requirement | str) -> None:
    setattr(function, _MARK, protection)


def protection_of(function: object) -> Requirement | str | None:
    """The Requirement of a require_auth function, ANONYMOUS, or None when unmarked."""
    value = getattr(function, _MARK, None)
    return value if isinstance(value, (Requirement, str)) else None


def refuse_unless_plain_function(target: object, decorator: str) -> None:
    """Refuse anything but a plain (async) function, with the fix in the message.

    Raises:
        TypeError: ``target`` is a FunctionBuilder (stacked above @app.route) or any other object.
    """
    if inspect.isfunction(target):
        return
    kind = type(target).__name__
    if kind == "FunctionBuilder":
        raise TypeError(
            f"@{decorator} is stacked above @app.route: it received the route's FunctionBuilder, "
            f"and the registered function would run with no authorization. Put @{decorator} "
            "directly above the function, below every @app... decorator:\n"
            f"    @app.route(...)\n    @{decorator}\n    def handler(req): ..."
        )
    raise TypeError(f"@{decorator} decorates plain functions only, not {kind}")
