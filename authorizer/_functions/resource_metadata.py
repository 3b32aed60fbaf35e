"""RFC 9728 protected resource metadata: how a generic OAuth client finds out what to ask for."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .._settings.app_settings import AuthSettings
from .answers import METADATA_PATH

ROUTE = METADATA_PATH.lstrip("/")


def protected_resource_document(settings: AuthSettings, scopes: Iterable[str], issuer: str) -> dict[str, Any]:
    """The metadata document: this API, its authorization server, and the scopes its functions use.

    ``issuer`` comes from the discovery document (never built from the instance string).
    """
    if settings.resource_url is None:
        raise ValueError("resource_url is not configured")
    return {
        # The resource identifier a client used to find this document (RFC 9728 section 3.3).
        "resource": settings.resource_url,
        "authorization_servers": [issuer],
        "scopes_supported": sorted({settings.full_scope(scope) for scope in scopes}),
        "bearer_methods_supported": ["header"],
        # Entra issues tokens for the App ID URI; a client requests scopes under it.
        "resource_name": settings.app_id_uri,
    }


def document_body(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=2).encode()
