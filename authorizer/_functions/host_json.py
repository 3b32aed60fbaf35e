"""What the app's host.json says about HTTP routes: the prefix the host puts before every route."""

from __future__ import annotations

import json
import sys
from pathlib import Path

FILE_NAME = "host.json"
# The host's default when host.json sets none.
DEFAULT_ROUTE_PREFIX = "api"
# What puts routes, and so the RFC 9728 document, at the site root.
ROOT_ROUTES_FIX = (
    'In host.json set "extensions": {"http": {"routePrefix": ""}} and write "api/..." in your routes, '
    "or do not call serve_protected_resource_metadata()."
)


def route_prefix(host_json: Path) -> str:
    """extensions.http.routePrefix, without slashes; the host's default "api" when it is not set.

    Raises:
        OSError, ValueError: the file cannot be read, or is not JSON.
    """
    settings = json.loads(host_json.read_text(encoding="utf-8-sig"))
    http = settings.get("extensions", {}).get("http", {}) if isinstance(settings, dict) else {}
    prefix = http.get("routePrefix", DEFAULT_ROUTE_PREFIX) if isinstance(http, dict) else DEFAULT_ROUTE_PREFIX
    return str(prefix).strip("/")


def find_host_json(caller_depth: int = 2) -> Path | None:
    """The host.json beside the module that called our caller (function_app.py), or in the working directory.

    The worker imports function_app.py from the app's root, where host.json lives; under a test
    runner the module may sit elsewhere, and the working directory is tried next.
    """
    caller_file = sys._getframe(caller_depth).f_globals.get("__file__")
    candidates = [Path(caller_file).parent / FILE_NAME] if caller_file else []
    candidates.append(Path.cwd() / FILE_NAME)
    return next((path for path in candidates if path.is_file()), None)
