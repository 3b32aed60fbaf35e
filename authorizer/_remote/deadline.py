"""A wall-clock deadline for one whole HTTP exchange made with requests.

requests' timeout bounds each socket operation, not the exchange: a peer that sends one byte just
inside it keeps a fetch going for as long as it likes, in the headers or in the body. Here a timer
shuts the connection's socket down when the deadline passes, which ends any read in progress. Name
resolution, which no socket timeout covers (the system resolver may take 30 s), runs on a helper
thread that the exchange waits for only until the deadline.
Imported only by processes that fetch (it imports requests).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.response import HTTPResponse

# socket.getaddrinfo's shape, so that a test can stand in a resolver that never answers.
Resolve = Callable[..., Sequence[tuple[Any, ...]]]

# The deadline of the exchange running on this thread, if any: connections find it here.
_current = threading.local()


class Deadline:
    """Use as a context around one exchange; ``expired`` says whether it cut the exchange short."""

    def __init__(self, seconds: float, resolve: Resolve = socket.getaddrinfo) -> None:
        self._resolve = resolve
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

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses of ``host``, resolved within what is left of the deadline.

        Raises:
            OSError: the name does not resolve, or not in time (the deadline is then expired).
        """
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        answer: list[Sequence[tuple[Any, ...]] | OSError] = []
        done = threading.Event()

        def lookup() -> None:
            try:
                answer.append(self._resolve(host, port, 0, socket.SOCK_STREAM))
            except OSError as error:
                answer.append(error)
            finally:
                done.set()

        # A daemon thread: a resolver that never answers holds that thread, never the exchange or shutdown.
        threading.Thread(target=lookup, name="authorizer-resolve", daemon=True).start()
        if not done.wait(self.remaining()):
            self._expired.set()
            raise TimeoutError(f"resolving {host} outlasted the deadline")
        result = answer[0]
        if isinstance(result, OSError):
            raise result
        found = list(dict.fromkeys(str(entry[4][0]) for entry in result))
        if not found:
            raise OSError(f"{host} resolves to no address")
        return found

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
    def _new_conn(self) -> socket.socket:
        return _connect_within_deadline(self, super()._new_conn)

    def getresponse(self) -> HTTPResponse:  # type: ignore[override]
        _watch(self.sock)
        return super().getresponse()


class _WatchedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _connect_within_deadline(self, super()._new_conn)

    def getresponse(self) -> HTTPResponse:  # type: ignore[override]
        _watch(self.sock)
        return super().getresponse()


def _connect_within_deadline(connection: HTTPConnection, connect: Callable[[], socket.socket]) -> socket.socket:
    """Resolve under the deadline, then connect to each address in turn as urllib3 would.

    urllib3 connects to ``_dns_host``; the TLS name check and the Host header keep ``host``.
    """
    deadline: Deadline | None = getattr(_current, "deadline", None)
    if deadline is None:
        return connect()
    name = connection._dns_host
    try:
        addresses = deadline.addresses(name, connection.port or 443)
    except OSError as error:
        raise NewConnectionError(connection, f"cannot resolve {name}: {type(error).__name__}") from None
    for address in addresses[:-1]:
        connection._dns_host = address
        try:
            return connect()
        except (NewConnectionError, ConnectTimeoutError):
            continue
        finally:
            connection._dns_host = name
    # The last address's failure is the one reported.
    connection._dns_host = addresses[-1]
    try:
        return connect()
    finally:
        connection._dns_host = name


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
