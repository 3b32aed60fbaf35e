"""One structured log record per authorization decision: ids and reasons, never tokens."""

from __future__ import annotations

import logging
import re

from .._token.authenticator import Trace

logger = logging.getLogger("authorizer")

# Header values are attacker-controlled: only a short, plain identifier reaches the log.
_MAX_ID_LENGTH = 128
_SAFE_ID = re.compile(rf"[A-Za-z0-9_.:=+/-]{{1,{_MAX_ID_LENGTH}}}")
_UNPRINTABLE = "<unprintable>"
# Ids already checked (bounded in number and length): the same tenants, apps and users recur.
_MEMO_SIZE = 4096
_printable: dict[str, str] = {}
_MESSAGE = (
    "auth %(outcome)s function=%(function)s status=%(status)s reason=%(reason)s "
    "tid=%(tid)s oid=%(oid)s client_app_id=%(client_app_id)s kid=%(kid)s"
)


def log_decision(function: str, status: int, reason: str, trace: Trace) -> None:
    """DEBUG for an admitted call, WARNING for a refusal, ERROR for a failure of ours.

    Admitted calls at DEBUG, as ASP.NET Core logs success: the host already records every
    invocation, and an INFO record per call is paid for in time and in Application Insights.
    ``logging.getLogger("authorizer").setLevel(logging.DEBUG)`` turns the audit trail on.
    """
    level = logging.DEBUG if status < 400 else logging.ERROR if status >= 500 and status != 503 else logging.WARNING
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
    # What Logger.log adds to these two calls is a search of the stack for the caller, which is
    # always this function; filters, handlers and the record factory all still apply.
    # A one-item tuple holding a mapping is how logging takes named fields: record.args is the mapping.
    record = logger.makeRecord(logger.name, level, _FILE, _LINE, _MESSAGE, (fields,), None, _FUNCTION, {"auth": fields})
    logger.handle(record)


def _safe(value: str | None) -> str:
    if value is None:
        return "-"
    if len(value) > _MAX_ID_LENGTH:
        return _UNPRINTABLE
    printable = _printable.get(value)
    if printable is None:
        printable = value if _SAFE_ID.fullmatch(value) else _UNPRINTABLE
        if len(_printable) >= _MEMO_SIZE:
            _printable.clear()
        _printable[value] = printable
    return printable


_FILE = log_decision.__code__.co_filename
_LINE = log_decision.__code__.co_firstlineno
_FUNCTION = log_decision.__name__
