"""JSON responses for the app's own functions."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func


def json_response(value: Any, status_code: int = 200) -> func.HttpResponse:
    return func.HttpResponse(
        body=json.dumps(value),
        status_code=status_code,
        headers={"Content-Type": "application/json", "Cache-Control": "no-store"},
    )


def bad_request(description: str) -> func.HttpResponse:
    return json_response({"error": "invalid_request", "error_description": description}, 400)
