"""An OAuth error answer of the local issuer, shaped as Entra's."""

from __future__ import annotations

from typing import Any


class OAuthError(Exception):
    """An OAuth error response: 400 (401 for a client that failed to prove itself) with Entra's fields."""

    def __init__(self, error: str, description: str, status: int = 400, **fields: Any) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        # What Entra adds: error_codes, suberror, claims.
        self.fields = fields

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "error_description": self.description, **self.fields}
