"""An HTTP(S) server on 127.0.0.1 serving from a daemon thread; start() and stop() own it."""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    tls: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs in the request's own thread: a slow client never holds up accept().
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        try:
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        # The plain socket handed its descriptor to the TLS one: socketserver closes only the former.
        with wrapped:
            super().finish_request(wrapped, client_address)


class ThreadedHttpServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self._handler = handler
        self._port = port
        self._tls = tls
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("start() the server first")
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        """Listen and serve.

        Raises:
            OSError: the port is taken (the message names it).
        """
        try:
            server = _Server(("127.0.0.1", self._port), self._handler)
        except OSError as error:
            raise OSError(error.errno, f"127.0.0.1:{self._port} is in use: {error.strerror}") from None
        server.tls = self._tls
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
