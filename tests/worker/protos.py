"""Stand-ins for the Functions host's protobuf messages, as far as azure-functions-runtime touches them.

The host's proxy worker hands the runtime its generated protobuf module in
``request.properties["protos"]``; the runtime never imports protobuf itself. These classes keep
the protobuf behaviour the runtime (1.3.0) relies on for HTTP functions:

- a field reads as its zero value until set (``""``, ``0``, ``{}``, ``[]``, an empty message), and
  ``None`` passed to a constructor leaves the field unset;
- ``WhichOneof(group)`` names the member that was set, even when set to a zero value (``bytes=b""``);
- a constructor refuses unknown fields (ValueError) and values of the wrong type (TypeError), and
  reading an unknown attribute raises AttributeError: the runtime probes names
  (``Datum.from_typed_data`` first tries ``.TypedData``).

Only the messages, fields and enum values the runtime builds or reads on this path are here, so
anything new it touches fails loudly, naming the missing piece. Cookies (RpcHttpCookie, Nullable*)
and retry options are left out: no function of the app sets a cookie or a retry policy.
"""

from __future__ import annotations

import builtins
import typing
from typing import Any, ClassVar


class Message:
    """A protobuf-like message whose fields are its class annotations."""

    ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(self, **values: object) -> None:
        fields = _fields(type(self))
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ValueError(f"Protocol message {type(self).__name__} has no field {unknown[0]!r}")
        self._present = {name for name, value in values.items() if value is not None}
        for name in self._present:
            kind, value = fields[name], values[name]
            if not isinstance(value, (int, float) if kind is float else kind):
                raise TypeError(f"{type(self).__name__}.{name} takes {kind.__name__}, not {type(value).__name__}")
            setattr(self, name, value)
        for group, members in self.ONEOFS.items():
            if len(self._present.intersection(members)) > 1:
                raise ValueError(f"{type(self).__name__}: more than one member of oneof {group!r} set")

    def __getattr__(self, name: str) -> Any:
        # Only for attributes not set: a field reads as its zero value, made on first read
        # (messages nest recursively: TypedData -> RpcHttp -> TypedData).
        kind = _fields(type(self)).get(name)
        if kind is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        value = kind()
        setattr(self, name, value)
        return value

    def WhichOneof(self, group: str) -> str | None:
        """The member of ``group`` that was set, or None."""
        if group not in self.ONEOFS:
            raise ValueError(f"Protocol message has no {group!r} oneof")
        return next((name for name in self.ONEOFS[group] if name in self._present), None)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in sorted(self._present))
        return f"{type(self).__name__}({shown})"


_FIELDS: dict[type[Message], dict[str, type[Any]]] = {}


def _fields(message: type[Message]) -> dict[str, type[Any]]:
    """Field name -> the type that makes its zero value (``str()``, ``dict()``, ``TypedData()``...).

    Read from the annotations on first use, once every class of this module exists.
    """
    if message not in _FIELDS:
        hints = typing.get_type_hints(message)
        _FIELDS[message] = {
            name: typing.get_origin(hint) or hint
            for name, hint in hints.items()
            if typing.get_origin(hint) is not ClassVar
        }
    return _FIELDS[message]


class RpcException(Message):
    message: str
    stack_trace: str
    source: str


class StatusResult(Message):
    # enum Status
    Failure = 0
    Success = 1
    Cancelled = 2

    status: int
    result: str
    exception: RpcException


class TypedData(Message):
    ONEOFS = {"data": ("string", "json", "bytes", "stream", "http", "int", "double")}

    string: str
    json: str
    bytes: builtins.bytes
    stream: builtins.bytes
    http: RpcHttp
    int: builtins.int
    double: builtins.float


class RpcHttp(Message):
    method: str
    url: str
    headers: dict[str, str]
    body: TypedData
    params: dict[str, str]
    query: dict[str, str]
    status_code: str
    cookies: list[Any]
    enable_content_negotiation: bool


class ParameterBinding(Message):
    ONEOFS = {"rpc_data": ("data", "rpc_shared_memory")}

    name: str
    data: TypedData
    rpc_shared_memory: RpcSharedMemory


class RpcSharedMemory(Message):
    name: str
    offset: int
    count: int
    type: int


class BindingInfo(Message):
    # enum Direction ("in" is a Python keyword: protobuf exposes it only through getattr)
    out = 1
    inout = 2
    # enum DataType
    undefined = 0

    type: str
    direction: int
    data_type: int


class RpcRetryOptions(Message):
    """Never built here: no function of the app sets a retry policy."""


class RpcFunctionMetadata(Message):
    name: str
    function_id: str
    directory: str
    script_file: str
    entry_point: str
    language: str
    bindings: dict[str, BindingInfo]
    raw_bindings: list[str]
    is_proxy: bool
    managed_dependency_enabled: bool
    retry_options: RpcRetryOptions
    properties: dict[str, str]


class WorkerMetadata(Message):
    runtime_name: str
    runtime_version: str
    worker_version: str
    worker_bitness: str
    custom_properties: dict[str, str]


class WorkerInitRequest(Message):
    host_version: str
    capabilities: dict[str, str]
    log_categories: dict[str, int]
    worker_directory: str
    function_app_directory: str


class WorkerInitResponse(Message):
    worker_version: str
    capabilities: dict[str, str]
    worker_metadata: WorkerMetadata
    result: StatusResult


class FunctionsMetadataRequest(Message):
    function_app_directory: str


class FunctionMetadataResponse(Message):
    function_metadata_results: list[RpcFunctionMetadata]
    result: StatusResult
    use_default_metadata_indexing: bool


class FunctionLoadRequest(Message):
    function_id: str
    metadata: RpcFunctionMetadata
    managed_dependency_enabled: bool


class FunctionLoadResponse(Message):
    function_id: str
    result: StatusResult
    is_dependency_downloaded: bool


class RpcTraceContext(Message):
    trace_parent: str
    trace_state: str
    attributes: dict[str, str]


class RetryContext(Message):
    retry_count: int
    max_retry_count: int
    exception: RpcException


class InvocationRequest(Message):
    invocation_id: str
    function_id: str
    input_data: list[ParameterBinding]
    trigger_metadata: dict[str, TypedData]
    trace_context: RpcTraceContext
    retry_context: RetryContext


class InvocationResponse(Message):
    invocation_id: str
    output_data: list[ParameterBinding]
    return_value: TypedData
    result: StatusResult


class StreamingMessage(Message):
    ONEOFS = {
        "content": ("worker_init_request", "functions_metadata_request", "function_load_request", "invocation_request")
    }

    request_id: str
    worker_init_request: WorkerInitRequest
    functions_metadata_request: FunctionsMetadataRequest
    function_load_request: FunctionLoadRequest
    invocation_request: InvocationRequest
