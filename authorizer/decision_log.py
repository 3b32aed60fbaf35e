"""One structured log record per authorization decision: ids and reasons, never tokens."""

from __future__ import annotations

import logging
import re

from .authenticator import Trace

logger = logging.getLogger("authorizer")

# Header values are attacker-controlled: only a short, plain identifier reaches the log.
_SAFE_ID = re.compile(r"[A-Za-z0-9_.:=+/-]{1,128}")


def log_decision(function: str, status: int, reason: str, trace: Trace) -> None:
    """INFO for an admitted call, WARNING for a refusal, ERROR for a failure of ours."""
    level = logging.INFO if status < 400 else logging.ERROR if status >= 500 and status != 503 else logging.WARNING
    # Build nothing for a level nobody listens to: this runs on every request.
    if not logger.isEnabledFor(level):
        return
    tid, oid, client_app_id = trace.ids()
    fields = {
        "function": function,
        "outcome": "allow" if status < 400 else "deny",
        "status": status,
        "reason": reason,
        "tid": _safe(tid),
        "oid": _safe(oid),
        "client_app_id": _safe(client_app_id),
        "kid": _safe(trace.kid),
    }
    logger.log(
        level,
        "auth %(outcome)s function=%(function)s status=%(status)s reason=%(reason)s "
        "tid=%(tid)s oid=%(oid)s client_app_id=%(client_app_id)s kid=%(kid)s",
        fields,
        extra={"auth": fields},
    )


def _safe(value: str | None) -> str:
    if value is None:
        return "-"
    return value if _SAFE_ID.fullmatch(value) else "<unprintable>"
