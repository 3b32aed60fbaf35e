"""A log sentinel: every record written while it watches is checked for token material."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

# Shorter pieces (a JSON key, "eyJ") appear legitimately; a signature or payload segment never does.
MIN_SECRET_LENGTH = 16


class RecordingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def watched_logs() -> Iterator[RecordingHandler]:
    """Capture every record of every logger, at DEBUG, for the duration of the block."""
    root = logging.getLogger()
    handler = RecordingHandler()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def rendered(record: logging.LogRecord) -> str:
    """Everything a handler could write: message, arguments, exception text, structured fields."""
    parts = [record.getMessage(), repr(record.args), repr(getattr(record, "auth", ""))]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    if record.exc_text:
        parts.append(record.exc_text)
    return "\n".join(parts)


def secrets_of(tokens: Iterable[str]) -> set[str]:
    """The pieces of tokens that must never be logged: each segment and the whole token."""
    pieces: set[str] = set()
    for token in tokens:
        pieces.update(piece for piece in [token, *token.split(".")] if len(piece) >= MIN_SECRET_LENGTH)
    return pieces


def assert_no_token_material(
    records: Iterable[logging.LogRecord], tokens: Iterable[str], claim_sets: Iterable[dict[str, Any]] = ()
) -> None:
    """Fail on any record holding a token, a token segment, or a whole claim set."""
    secrets = secrets_of(tokens)
    dumped_claims = [json.dumps(claims) for claims in claim_sets]
    for record in records:
        text = rendered(record)
        leaked = [secret for secret in secrets if secret in text]
        assert not leaked, f"token material in a log record from {record.name}: {text[:200]!r}"
        for claims in dumped_claims:
            assert claims not in text, f"a whole claim set in a log record from {record.name}"
        assert "'scp':" not in text and '"scp":' not in text, f"claims in a log record from {record.name}"
