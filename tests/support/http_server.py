"""A small threaded HTTP(S) server on 127.0.0.1 that tests start and stop by its handle."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    """A loopback port nothing listens on now, for a server started by its own process."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class QuietHandler(BaseHTTPRequestHandler):
    """A handler that answers with one call and logs nothing (test output stays readable)."""

    protocol_version = "HTTP/1.1"

    def answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout under test): nothing left to tell it.
            pass

    def log_message(self, format: str, *args: Any) -> None:
        return


class _ConnectionTrackingServer(ThreadingHTTPServer):
    """Remembers open connections, so that stopping also ends keep-alive ones (a real outage)."""

    daemon_threads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        with self.connections_lock:
            connections, self.connections = self.connections, set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close()


class LoopbackServer:
    """Serves ``handler`` on 127.0.0.1; restartable on the same port (to play "down" and "back")."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], tls: Callable[[], ssl.SSLContext] | None = None) -> None:
        self._handler = handler
        self._tls = tls
        self._server: _ConnectionTrackingServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        server = _ConnectionTrackingServer(("127.0.0.1", self.port), self._handler)
        if self._tls is not None:
            server.socket = self._tls().wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="loopback-server", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and cut every open connection: new and kept-alive requests both fail."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.drop_connections()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
