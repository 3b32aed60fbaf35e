"""Stand-ins for the host's protobuf messages, as far as azure-functions-runtime touches them.

The Functions host's proxy hands the worker its generated classes in
``request.properties["protos"]``; the runtime never imports protobuf itself. These dataclasses
mimic what it constructs and reads: fields with protobuf-like defaults, ``WhichOneof`` for the
oneof groups it probes, and no other attributes (the runtime probes names and expects
AttributeError for those a message lacks).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar


class _Oneof:
    """``WhichOneof`` over fields that default to None, as protobuf reports the set member."""

    ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {}

    def WhichOneof(self, group: str) -> str | None:  # noqa: N802 - the protobuf method name
        for name in self.ONEOFS[group]:
            if getattr(self, name) is not None:
                return name
        return None


@dataclass
class TypedData(_Oneof):
    string: str | None = None
    json: str | None = None
    bytes: builtins.bytes | None = None
    stream: builtins.bytes | None = None
    http: RpcHttp | None = None
    int: int | None = None
    double: float | None = None
    collection_bytes: Any = None
    collection_string: Any = None
    collection_double: Any = None
    collection_sint64: Any = None
    model_binding_data: Any = None
    collection_model_binding_data: Any = None


TypedData.ONEOFS = {"data": tuple(member.name for member in fields(TypedData))}


@dataclass
class RpcHttp:
    method: str = ""
    url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: TypedData | None = None
    params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    status_code: str = ""
    cookies: list[Any] | None = None
    enable_content_negotiation: bool = False


@dataclass
class ParameterBinding(_Oneof):
    name: str = ""
    data: TypedData | None = None
    rpc_shared_memory: Any = None

    ONEOFS = {"rpc_data": ("data", "rpc_shared_memory")}


@dataclass
class RpcException:
    message: str = ""
    stack_trace: str = ""
    source: str = ""


@dataclass
class StatusResult:
    Failure = 0
    Success = 1
    Cancelled = 2

    status: int = 0
    result: str = ""
    exception: RpcException | None = None


@dataclass
class BindingInfo:
    in_ = 0
    out = 1
    inout = 2

    type: str = ""
    data_type: Any = None
    direction: int = 0


@dataclass
class RpcFunctionMetadata:
    name: str = ""
    function_id: str = ""
    managed_dependency_enabled: bool = False
    directory: str = ""
    script_file: str = ""
    entry_point: str = ""
    is_proxy: bool = False
    language: str = ""
    bindings: dict[str, BindingInfo] = field(default_factory=dict)
    raw_bindings: list[str] = field(default_factory=list)
    retry_options: Any = None
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class WorkerMetadata:
    runtime_name: str = ""
    runtime_version: str = ""
    worker_version: str = ""
    worker_bitness: str = ""
    custom_properties: dict[str, str] = field(default_factory=dict)


@dataclass
class WorkerInitRequest:
    host_version: str = "4.0.0"
    capabilities: dict[str, str] = field(default_factory=dict)
    log_categories: dict[str, str] = field(default_factory=dict)
    worker_directory: str = ""
    function_app_directory: str = ""


@dataclass
class WorkerInitResponse:
    worker_version: str = ""
    capabilities: dict[str, str] = field(default_factory=dict)
    worker_metadata: WorkerMetadata | None = None
    result: StatusResult | None = None


@dataclass
class FunctionsMetadataRequest:
    function_app_directory: str = ""


@dataclass
class FunctionMetadataResponse:
    function_metadata_results: list[RpcFunctionMetadata] | None = None
    result: StatusResult | None = None
    use_default_metadata_indexing: bool = False


@dataclass
class FunctionLoadRequest:
    function_id: str = ""
    metadata: RpcFunctionMetadata | None = None


@dataclass
class FunctionLoadResponse:
    function_id: str = ""
    result: StatusResult | None = None


@dataclass
class RpcTraceContext:
    trace_parent: str = ""
    trace_state: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class RetryContext:
    retry_count: int = 0
    max_retry_count: int = 0
    exception: RpcException = field(default_factory=RpcException)


@dataclass
class InvocationRequest:
    invocation_id: str = ""
    function_id: str = ""
    input_data: list[ParameterBinding] = field(default_factory=list)
    trigger_metadata: dict[str, TypedData] = field(default_factory=dict)
    trace_context: RpcTraceContext = field(default_factory=RpcTraceContext)
    retry_context: RetryContext = field(default_factory=RetryContext)


@dataclass
class InvocationResponse:
    invocation_id: str = ""
    output_data: list[ParameterBinding] = field(default_factory=list)
    return_value: TypedData | None = None
    result: StatusResult | None = None


@dataclass
class StreamingMessage:
    request_id: str = ""
    worker_init_request: WorkerInitRequest | None = None
    functions_metadata_request: FunctionsMetadataRequest | None = None
    function_load_request: FunctionLoadRequest | None = None
    invocation_request: InvocationRequest | None = None
