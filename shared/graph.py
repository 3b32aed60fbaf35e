"""Calling Microsoft Graph (locally: the Graph-shaped development API) with a token on the caller's behalf."""

from __future__ import annotations

import os

import azure.functions as func

import authorizer

from .responses import json_response

GRAPH_RESOURCE = "https://graph.microsoft.com"
USER_READ = f"{GRAPH_RESOURCE}/User.Read"
MAIL_READ = f"{GRAPH_RESOURCE}/Mail.Read"


def base_url() -> str:
    """Where Graph answers: GRAPH_BASE_URL (`make demo` points it at the local one), else Graph itself."""
    return os.environ.get("GRAPH_BASE_URL") or GRAPH_RESOURCE


def relay(path: str, token: str) -> func.HttpResponse:
    """GET a Graph resource with ``token`` and answer with what it says.

    A claims challenge from Graph (CAE, a step-up) goes back to the client app, which can meet it; any
    other failure is Graph's, answered 502 without its details.
    """
    # Imported on first use: requests costs about 40 ms, and the host imports the app on every cold start.
    import requests

    response = requests.get(f"{base_url()}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    authorizer.raise_for_claims_challenge(response.status_code, response.headers)
    if response.status_code != 200:
        failure = {"error": "bad_gateway", "error_description": f"Graph answered {response.status_code}."}
        return json_response(failure, 502)
    return json_response(response.json())
