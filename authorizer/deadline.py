"""A wall-clock deadline for one whole HTTP exchange made with requests.

requests' timeout bounds each socket operation, not the exchange: a peer that sends one byte just
inside it keeps a fetch going for as long as it likes, in the headers or in the body. Here a timer
shuts the connection's socket down when the deadline passes, which ends any read in progress.
Imported only by processes that fetch (it imports requests).
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.response import HTTPResponse

# The deadline of the exchange running on this thread, if any: connections find it here.
_current = threading.local()


class Deadline:
    """Use as a context around one exchange; ``expired`` says whether it cut the exchange short."""

    def __init__(self, seconds: float) -> None:
        self._ends_at = time.monotonic() + seconds
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._over = False
        self._expired = threading.Event()

    @property
    def expired(self) -> bool:
        return self._expired.is_set()

    def wait_expired(self, timeout: float) -> bool:
        """Wait until the deadline has cut the exchange; True once it has."""
        return self._expired.wait(timeout)

    def remaining(self) -> float:
        return max(0.0, self._ends_at - time.monotonic())

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` down at the deadline (the socket a response is about to be read from)."""
        timer = threading.Timer(self.remaining(), self._expire, args=(sock,))
        timer.daemon = True
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = timer
        timer.start()

    def _expire(self, sock: socket.socket) -> None:
        with self._lock:
            # Once the exchange is over its connection may serve another one: never cut that.
            if self._over:
                return
            self._expired.set()
            try:
                # socket.socket's shutdown, not SSLSocket's: that one first drops the TLS layer, and
                # bytes arriving after it would be read as plaintext. shutdown, not close: it wakes a
                # recv blocked in another thread.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> Deadline:
        _current.deadline = self
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        _current.deadline = None
        with self._lock:
            self._over = True
            if self._timer is not None:
                self._timer.cancel()


class _WatchedHTTPConnection(HTTPConnection):
    def getresponse(self) -> HTTPResponse:  # type: ignore[override]
        _watch(self.sock)
        return super().getresponse()


class _WatchedHTTPSConnection(HTTPSConnection):
    def getresponse(self) -> HTTPResponse:  # type: ignore[override]
        _watch(self.sock)
        return super().getresponse()


def _watch(sock: socket.socket | None) -> None:
    deadline: Deadline | None = getattr(_current, "deadline", None)
    if deadline is not None and sock is not None:
        deadline.watch(sock)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter whose connections honour the Deadline of the exchange (proxies included)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager
