"""The OpenTelemetry SDK's in-memory readers, set once for the test process as an app's distro would set them."""

from __future__ import annotations

from collections import Counter

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

Series = tuple[str, frozenset[tuple[str, str]]]


class Telemetry:
    """The SDK's readers, and the change since the last look (other tests share the process's providers)."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.exporter = InMemorySpanExporter()
        self._last: Counter[Series] = Counter()

    def totals(self) -> Counter[Series]:
        found: Counter[Series] = Counter()
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        key = (metric.name, frozenset((k, str(v)) for k, v in (point.attributes or {}).items()))
                        found[key] += int(getattr(point, "count", None) or getattr(point, "value", 0) or 0)
        return found

    def since(self) -> Counter[Series]:
        """What was recorded since the previous call (counts for histograms, sums for counters)."""
        now = self.totals()
        delta = now - self._last
        self._last = now
        return delta

    def spans(self) -> list[ReadableSpan]:
        found = list(self.exporter.get_finished_spans())
        self.exporter.clear()
        return found


def series(name: str, **attributes: str) -> Series:
    return (name, frozenset(attributes.items()))
