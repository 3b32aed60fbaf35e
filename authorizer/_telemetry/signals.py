"""The instruments and spans, built on OpenTelemetry's API when it is installed (the ``telemetry`` extra).

Without an SDK (no meter or tracer provider configured) the API hands out proxies that drop what they
are given, yet asking the API whether a provider is configured reads the environment (about 1 us). So
the answer is kept and asked again at most once a second until both providers are set (OpenTelemetry
lets each be set once, for good): without an SDK the hot path records nothing and starts no span.
Attribute values come from bounded sets: results, error codes, function names, sources; a tenant or
client app id only where a setting opts in, a user id never in a metric.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from time import perf_counter
from typing import Any

SCOPE = "entra-functions-authorizer"
FUNCTION = "entra_authorizer.function"
RESULT = "entra_authorizer.result"
SOURCE = "entra_authorizer.source"
KIND = "entra_authorizer.kind"
TENANT = "entra_authorizer.tenant_id"
CLIENT = "entra_authorizer.client_app_id"
ERROR = "error.type"
# How often to ask again whether an SDK has been configured meanwhile.
RELOOK_SECONDS = 1.0


class Signals:
    """The process's instruments; ``metering`` and ``tracing`` say whether anyone listens."""

    def __init__(self) -> None:
        from opentelemetry import metrics, trace

        self._trace = trace
        meter = metrics.get_meter(SCOPE)
        self.authentication_duration = meter.create_histogram(
            "entra_authorizer.authentication.duration",
            unit="s",
            description="Time to authenticate a protected call's bearer token (validation, cache, tenant)",
        )
        self.authorization_attempts = meter.create_counter(
            "entra_authorizer.authorization.attempts",
            description="Authenticated callers judged against a function's policy (tenant and requirements)",
        )
        self.key_refreshes = meter.create_counter(
            "entra_authorizer.key_refreshes",
            description="Refreshes of the metadata, the signing keys and the Key Vault tenant list",
        )
        self.token_cache_lookups = meter.create_counter(
            "entra_authorizer.token_cache.lookups", description="Lookups in the validated-token cache"
        )
        self.rate_limit_refusals = meter.create_counter(
            "entra_authorizer.rate_limit.refusals", description="Calls refused because their caller is over its limit"
        )
        self.downstream_requests = meter.create_counter(
            "entra_authorizer.downstream.requests", description="Downstream tokens asked for, by kind and outcome"
        )
        self.tracer = trace.get_tracer(SCOPE)
        self._metrics = metrics
        self.tracing = False
        self.metering = False
        self.look_at = -math.inf

    def look(self, now: float) -> None:
        """Find out (again) whether an SDK is configured; ``now`` is a perf_counter reading.

        Callers look only once ``now`` reaches ``look_at``: the check is theirs, inline, on the hot path.
        """
        self.tracing = not isinstance(self._trace.get_tracer_provider(), self._trace.ProxyTracerProvider)
        # The API's proxy provider, until an SDK's is set (its class is not exported; its name says it).
        self.metering = type(self._metrics.get_meter_provider()).__name__ != "_ProxyMeterProvider"
        # Once both are set they stay set: no need to ask again.
        self.look_at = math.inf if self.tracing and self.metering else now + RELOOK_SECONDS

    def forget_look(self) -> None:
        self.look_at = -math.inf


class _Silent:
    """Stands in when OpenTelemetry is not installed: nobody listens, ever."""

    tracing = False
    metering = False
    look_at = math.inf

    def look(self, now: float) -> None:
        return


_signals: Signals | _Silent | None = None
_making = threading.Lock()


def signals() -> Signals | _Silent:
    """The instruments, made on first use; the silent stand-in without OpenTelemetry."""
    global _signals
    current = _signals
    if current is None:
        # Once per process (the first fetch, on a prefetch thread, may race the first request).
        with _making:
            current = _signals
            if current is None:
                try:
                    current = Signals()
                except ImportError:
                    current = _Silent()
                _signals = current
    return current


def look_again() -> None:
    """Ask on the next call whether an SDK is configured (``reset`` calls it: an app may set one late)."""
    if isinstance(_signals, Signals):
        _signals.forget_look()


def observed(now: float) -> Signals | None:
    """The instruments when an SDK records metrics or spans (check which), else None; ``now`` from perf_counter."""
    current = _signals if _signals is not None else signals()
    if now >= current.look_at:
        current.look(now)
    return current if current.metering or current.tracing else None  # type: ignore[return-value]


def listening() -> Signals | None:
    """The instruments when an SDK records metrics, else None."""
    found = observed(perf_counter())
    return found if found is not None and found.metering else None


def traced() -> Signals | None:
    """The instruments when an SDK records spans, else None."""
    found = observed(perf_counter())
    return found if found is not None and found.tracing else None


def count_refresh(source: str, succeeded: bool) -> None:
    """One refresh of a fetched value (metadata, jwks, key_vault)."""
    found = listening()
    if found is not None:
        found.key_refreshes.add(1, _refresh_attributes[source, succeeded])


_refresh_attributes = {
    (source, succeeded): {SOURCE: source, RESULT: "success" if succeeded else "failure"}
    for source in ("metadata", "jwks", "key_vault")
    for succeeded in (True, False)
}


def host_trace(invocation: object) -> Any:
    """The context to start a decision's span in: the current one when it holds a span (the worker made the
    host's invocation current, as it does on its event loop), else the trace parent the worker hands the
    function in its invocation context (a sync function runs on a thread pool that does not carry it)."""
    from opentelemetry import trace

    if trace.get_current_span().get_span_context().is_valid:
        return None
    trace_context = getattr(invocation, "trace_context", None)
    parent = getattr(trace_context, "trace_parent", None)
    if not isinstance(parent, str) or not parent:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    state = getattr(trace_context, "trace_state", "")
    carrier = {"traceparent": parent, "tracestate": state if isinstance(state, str) else ""}
    return TraceContextTextMapPropagator().extract(carrier)


def fetch_span(source: str) -> Callable[[bool, str | None], None]:
    """A span around one fetch of ``source``; the returned callable ends it with its outcome."""
    found = traced()
    if found is None:
        return _no_span
    span = found.tracer.start_span("entra_authorizer.fetch", attributes={SOURCE: source})
    started = time.monotonic()

    def finish(succeeded: bool, error_type: str | None) -> None:
        span.set_attribute(RESULT, "success" if succeeded else "failure")
        if error_type is not None:
            span.set_attribute(ERROR, error_type)
        span.set_attribute("entra_authorizer.duration_ms", round((time.monotonic() - started) * 1000, 1))
        span.end()

    return finish


def _no_span(succeeded: bool, error_type: str | None) -> None:
    return
