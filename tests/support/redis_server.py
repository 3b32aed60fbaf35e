"""A real redis-server on a free loopback port, started and stopped by its handle (and killed, for outages)."""

from __future__ import annotations

import os
import selectors
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

from .http_server import free_port

READY = b"Ready to accept connections"


class LocalRedis:
    """Debian's redis-server with no persistence: a fresh, empty store each start."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> LocalRedis:
        """Start and wait until it says it accepts connections.

        Raises:
            RuntimeError: redis-server is missing (`make bootstrap` installs it) or did not come up.
        """
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError("redis-server is missing: run `make bootstrap`")
        command = [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self._process = subprocess.Popen(  # noqa: S603 - Debian's redis-server
            [*command, "--dir", str(self.directory), "--logfile", ""], stdout=subprocess.PIPE
        )
        said: list[bytes] = []
        if not self._ready(deadline=time.monotonic() + 10, said=said):
            self.stop()
            raise RuntimeError(f"redis-server did not come up: {b''.join(said[-5:]).decode(errors='replace')}")
        return self

    def stop(self) -> None:
        """Kill it, as abruptly as a crash; the port is free again once it has exited."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None

    def _ready(self, deadline: float, said: list[bytes]) -> bool:
        # Raw reads of the descriptor: a buffered readline would hide lines from the selector.
        assert self._process is not None and self._process.stdout is not None
        descriptor = self._process.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(descriptor, selectors.EVENT_READ)
            while selector.select(timeout=max(0.0, deadline - time.monotonic())):
                chunk = os.read(descriptor, 4096)
                if not chunk:
                    return False
                said.append(chunk)
                if READY in b"".join(said):
                    return True
        return False


class SilentServer:
    """Accepts connections, reads what it is sent and never answers: a store that hangs."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.connections = 0
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> SilentServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        # shutdown wakes the accept() blocked in the serving thread; close alone would not.
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            for connection in self._open:
                connection.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._open.append(connection)
