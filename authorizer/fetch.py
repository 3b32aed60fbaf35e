"""Bounded JSON over HTTPS: a timeout, a size cap and a shape check on every fetch."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests

# Entra's metadata is about 2 KB and its JWKS about 10 KB.
MAX_DOCUMENT_BYTES = 256 * 1024

JsonFetcher = Callable[[str], dict[str, Any]]


class FetchError(Exception):
    """A document could not be had; ``retry_after`` carries the server's hint, if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class HttpJsonFetcher:
    """Fetches one JSON object per call with requests, within a total deadline."""

    def __init__(
        self, timeout_seconds: float, max_bytes: int = MAX_DOCUMENT_BYTES, ca_bundle: str | None = None
    ) -> None:
        self._timeout = timeout_seconds
        self._max_bytes = max_bytes
        # None: the system's trust store (or REQUESTS_CA_BUNDLE), as for any HTTPS client.
        self._verify: str | bool = ca_bundle or True
        self._session: requests.Session | None = None

    def __call__(self, url: str) -> dict[str, Any]:
        """Fetch ``url`` and return its JSON object.

        Raises:
            FetchError: on any network, status, size, timeout or JSON problem.
        """
        # requests costs ~50 ms to import: only processes that fetch pay it.
        import requests

        session = self._session or self._new_session()
        deadline = time.monotonic() + self._timeout
        try:
            with session.get(
                url,
                timeout=self._timeout,
                stream=True,
                allow_redirects=False,
                verify=self._verify,
                headers={"Accept": "application/json"},
            ) as response:
                if response.status_code != 200:
                    raise FetchError(
                        f"HTTP {response.status_code} from {url}",
                        retry_after=parse_retry_after(response.headers.get("Retry-After")),
                    )
                body = self._read_capped(response, deadline, url)
        except requests.RequestException as error:
            raise FetchError(f"{type(error).__name__} fetching {url}") from None
        return parse_json_object(body, url)

    def _new_session(self) -> requests.Session:
        import requests

        self._session = requests.Session()
        return self._session

    def _read_capped(self, response: requests.Response, deadline: float, url: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(chunk_size=16 * 1024):
            size += len(chunk)
            if size > self._max_bytes:
                raise FetchError(f"response from {url} exceeds {self._max_bytes} bytes")
            # A server that drips bytes keeps every socket read under the timeout.
            if time.monotonic() > deadline:
                raise FetchError(f"response from {url} exceeded the {self._timeout} s deadline")
            chunks.append(chunk)
        return b"".join(chunks)


def parse_json_object(body: bytes, url: str) -> dict[str, Any]:
    """Parse a UTF-8 JSON object.

    Raises:
        FetchError: not UTF-8, not JSON, or not an object.
    """
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise FetchError(f"response from {url} is not JSON") from None
    if not isinstance(value, dict):
        raise FetchError(f"response from {url} is not a JSON object")
    return value


def parse_retry_after(value: str | None) -> float | None:
    """Read Retry-After as delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
