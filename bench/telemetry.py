"""(a) and (b) with an OpenTelemetry SDK configured, as an app's distro configures one.

A meter provider with a metric reader, and a tracer provider whose batch processor hands every span
to an exporter (here one that drops them, so that the figure is the authorizer's and the SDK's cost,
not a network's). Each row is a ratio to a bare RSA verify timed in the same run, like hot_path's
rows without an SDK, which run in a process of their own: OpenTelemetry lets a process set its
providers only once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from bench.harness import (
    RsaFloor,
    figures,
    fresh_rounds,
    local_authorizer,
    mint,
    pin_to_one_core,
    protected_noop,
    repeat_rounds,
    request_for,
)

PER_ROUND = 1000


class DroppingExporter(SpanExporter):
    """Takes each batch and drops it: what is measured is the SDK's work, not an exporter's I/O."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


def measure(signals: str) -> dict[str, Any]:
    """``signals``: "metrics", "traces" or "both": which providers the SDK sets."""
    core = pin_to_one_core()
    reader = InMemoryMetricReader()
    if signals in ("metrics", "both"):
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    exporter = DroppingExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    if signals in ("traces", "both"):
        trace.set_tracer_provider(provider)
    with local_authorizer() as issuer:
        list_orders = protected_noop()
        floor = RsaFloor(issuer, mint(issuer, PER_ROUND))
        assert list_orders(request_for(mint(issuer, 1)[0])).status_code == 200
        fresh = floor.ratio(list_orders, fresh_rounds(issuer, PER_ROUND))
        repeat = floor.ratio(list_orders, repeat_rounds(list_orders, issuer, PER_ROUND))
        provider.force_flush()
        recorded = reader.get_metrics_data()
    names = (
        {
            metric.name
            for resource in recorded.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
        }
        if recorded
        else set()
    )
    provider.shutdown()
    return {
        "core": core,
        "signals": signals,
        "rsa_verify_us": floor.median_us(),
        "fresh": figures(fresh, 2),
        "repeat": figures(repeat, 3),
        # Proof that the SDK was listening: the spans exported and the instruments read.
        "spans_exported": exporter.spans,
        "instruments_read": sorted(names),
    }


if __name__ == "__main__":
    print(json.dumps(measure(os.environ.get("BENCH_SDK_SIGNALS", "both"))))
