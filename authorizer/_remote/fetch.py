"""Bounded JSON over HTTPS: a timeout, a size cap and a shape check on every fetch."""

from __future__ import annotations

import http.client
import json
import re
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests

# Entra's metadata is about 2 KB and its JWKS about 10 KB.
MAX_DOCUMENT_BYTES = 256 * 1024
# A Retry-After beyond this (about 31 years) is read as this; callers bound it far lower.
HUGE_DELAY = 1e9
# ASCII digits only: str.isdigit also admits "²" and other scripts' digits, which float() refuses.
_DELTA_SECONDS = re.compile(r"[0-9]+")

JsonFetcher = Callable[[str], dict[str, Any]]


class FetchError(Exception):
    """A document could not be had; ``retry_after`` carries the server's hint, if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class HttpJsonFetcher:
    """Fetches one JSON object per call with requests, within a total deadline."""

    def __init__(
        self,
        timeout_seconds: float,
        max_bytes: int = MAX_DOCUMENT_BYTES,
        ca_bundle: str | None = None,
        resolve: Callable[..., Any] | None = None,
    ) -> None:
        self._timeout = timeout_seconds
        # Name resolution (socket.getaddrinfo's shape): inside the deadline, like the rest of the exchange.
        self._resolve = resolve
        self._max_bytes = max_bytes
        # None: the system's trust store (or REQUESTS_CA_BUNDLE), as for any HTTPS client.
        self._verify: str | bool = ca_bundle or True
        self._session: requests.Session | None = None

    def __call__(self, url: str) -> dict[str, Any]:
        """Fetch ``url`` and return its JSON object, all of it within the timeout.

        Raises:
            FetchError: on any network, status, size, timeout or JSON problem.
        """
        # requests costs ~50 ms to import: only processes that fetch pay it.
        import requests

        from .deadline import Deadline

        session = self._session or self._new_session()
        with Deadline(self._timeout, **({"resolve": self._resolve} if self._resolve else {})) as deadline:
            try:
                remaining = deadline.remaining()
                with session.get(
                    url,
                    timeout=(remaining, remaining),
                    stream=True,
                    allow_redirects=False,
                    verify=self._verify,
                    # Identity only: a compressed answer is bounded in bytes on the wire, not in what it inflates to.
                    headers={"Accept": "application/json", "Accept-Encoding": "identity"},
                ) as response:
                    if response.status_code != 200:
                        raise FetchError(
                            f"HTTP {response.status_code} from {url}",
                            retry_after=parse_retry_after(response.headers.get("Retry-After")),
                        )
                    _refuse_encoding(response.headers.get("Content-Encoding"), url)
                    body = self._read_capped(response, url)
            except (requests.RequestException, http.client.HTTPException, OSError) as error:
                # A peer that drips bytes is cut off by the deadline, whatever it was sending.
                if deadline.expired:
                    raise FetchError(f"response from {url} exceeded the {self._timeout} s deadline") from None
                raise FetchError(f"{type(error).__name__} fetching {url}") from None
            # A body that completed as the deadline cut the connection is not trusted either.
            if deadline.expired:
                raise FetchError(f"response from {url} exceeded the {self._timeout} s deadline")
        return parse_json_object(body, url)

    def _new_session(self) -> requests.Session:
        import requests

        from .deadline import DeadlineAdapter

        session = requests.Session()
        adapter = DeadlineAdapter()
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self._session = session
        return session

    def _read_capped(self, response: requests.Response, url: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(chunk_size=16 * 1024):
            size += len(chunk)
            if size > self._max_bytes:
                raise FetchError(f"response from {url} exceeds {self._max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


def _refuse_encoding(encoding: str | None, url: str) -> None:
    """Refuse a body encoded although we asked for none, before a byte of it is decoded.

    Raises:
        FetchError: naming the encoding (cut short: it is the server's text).
    """
    if encoding is not None and encoding.strip().lower() not in ("", "identity"):
        raise FetchError(f"response from {url} came with Content-Encoding {encoding[:40]!r}, which was not asked for")


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
    """Read Retry-After as delta-seconds or an HTTP date, never raising.

    Returns a finite number of seconds, at most HUGE_DELAY, or None when absent or unreadable.
    The value comes from a server: callers bound it further before acting on it.
    """
    if not value:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        # 400 digits would parse to infinity: the length decides before any conversion.
        return float(value) if len(value) <= 9 else HUGE_DELAY
    try:
        seconds = parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return min(HUGE_DELAY, max(0.0, seconds))
