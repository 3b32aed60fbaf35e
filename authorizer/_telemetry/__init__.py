"""Metrics and spans of every decision through OpenTelemetry's API: nothing at all without an SDK.

Private: the promise is `authorizer.__all__` and the instrument names in docs/observability.md.
"""
