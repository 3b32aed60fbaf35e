"""Starts and stops the local Entra-shaped issuer (samples/local-issuer, on oauth2-mock-server)."""

from __future__ import annotations

import json
import selectors
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[2]
SERVER = REPO / "samples" / "local-issuer" / "server.mjs"
HOME_TENANT = "11111111-1111-4111-8111-111111111111"
API_CLIENT_ID = "aaaaaaaa-0000-4000-8000-00000000a91e"
SPA_CLIENT_ID = "bbbbbbbb-0000-4000-8000-0000000005ba"
READY = "local Entra issuer listening on "


@dataclass
class IssuerState:
    """What a running issuer tells its clients: where it is and which CA to trust."""

    url: str
    ca_bundle: str
    api_client_id: str
    home_tenant: str

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.__dict__, indent=2))

    @classmethod
    def load(cls, path: Path) -> IssuerState:
        return cls(**json.loads(path.read_text()))


class LocalEntraIssuer:
    """The Node issuer over TLS with a throwaway CA; start() and stop() own the process."""

    def __init__(
        self,
        state_dir: Path,
        *,
        port: int = 0,
        api_client_id: str = API_CLIENT_ID,
        home_tenant: str = HOME_TENANT,
        token_version: int = 2,
    ) -> None:
        self.state_dir = state_dir
        self._arguments = {
            "--port": str(port),
            "--api-client-id": api_client_id,
            "--home-tenant": home_tenant,
            "--token-version": str(token_version),
        }
        self._process: subprocess.Popen[str] | None = None
        self.state: IssuerState | None = None

    def start(self, timeout: float = 20) -> LocalEntraIssuer:
        """Generate certificates, start node, and wait until it listens.

        Raises:
            RuntimeError: node is missing, samples/ was not installed, or the issuer did not start.
        """
        node = shutil.which("node")
        if node is None or not (REPO / "samples" / "node_modules" / "oauth2-mock-server").is_dir():
            raise RuntimeError("the local issuer needs node and `npm ci` in samples/: run `make bootstrap`")
        ca_bundle, cert, key = self._certificates()
        command = [node, str(SERVER), "--cert", str(cert), "--key", str(key)]
        for name, value in self._arguments.items():
            command += [name, value]
        self._process = subprocess.Popen(  # noqa: S603 - our own server script
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO / "samples",
        )
        url = self._wait_until_listening(timeout)
        self.state = IssuerState(
            url, str(ca_bundle), self._arguments["--api-client-id"], self._arguments["--home-tenant"]
        )
        self.state.save(self.state_dir / "issuer.json")
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
            for stream in (self._process.stdin, self._process.stdout, self._process.stderr):
                if stream is not None:
                    stream.close()
            self._process = None

    @property
    def url(self) -> str:
        return self._started().url

    def rotate(self) -> str:
        """Sign with a new key from now on; every earlier key stays published."""
        return str(self._post("/_dev/rotate", None)["kid"])

    def token(self, *, tenant: str = "organizations", **fields: str) -> str:
        """A token from the token endpoint (grant_type and the dev_* fields as form fields)."""
        return str(self._post(f"/{tenant}/oauth2/v2.0/token", fields)["access_token"])

    def _started(self) -> IssuerState:
        if self.state is None:
            raise RuntimeError("start() the issuer first")
        return self.state

    def _post(self, path: str, form: dict[str, str] | None) -> dict[str, Any]:
        state = self._started()
        response = requests.post(state.url + path, data=form, verify=state.ca_bundle, timeout=10)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def _certificates(self) -> tuple[Path, Path, Path]:
        # trustme is a development requirement: imported only on this path.
        import trustme

        self.state_dir.mkdir(parents=True, exist_ok=True)
        authority = trustme.CA()
        certificate = authority.issue_cert("127.0.0.1", "localhost")
        ca_bundle, cert, key = (self.state_dir / name for name in ("ca.pem", "cert.pem", "key.pem"))
        authority.cert_pem.write_to_path(str(ca_bundle))
        certificate.cert_chain_pems[0].write_to_path(str(cert))
        for extra in certificate.cert_chain_pems[1:]:
            extra.write_to_path(str(cert), append=True)
        certificate.private_key_pem.write_to_path(str(key))
        return ca_bundle, cert, key

    def _wait_until_listening(self, timeout: float) -> str:
        if self._process is None or self._process.stdout is None:
            raise RuntimeError("the issuer process is not running")
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self._process.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not selector.select(timeout=deadline - time.monotonic()):
                    break
                line = self._process.stdout.readline()
                if line.startswith(READY):
                    return line[len(READY) :].strip()
                if not line:
                    break
        error = self._process.stderr.read() if self._process.poll() is not None and self._process.stderr else ""
        self.stop()
        raise RuntimeError(f"the local issuer did not start: {error.strip()[-500:]}")


def main() -> int:
    """Run the issuer alone, for `func start` against it (LOCAL_ISSUER_PORT, default 7443)."""
    import os
    import signal
    import threading

    from . import require_development

    require_development()
    port = int(os.environ.get("LOCAL_ISSUER_PORT", "7443"))
    issuer = LocalEntraIssuer(REPO / ".local-issuer", port=port).start()
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, frame: stopping.set())
    state = issuer._started()
    print(
        f"local Entra issuer on {state.url} - put these in local.settings.json Values, then `func start`:\n"
        f'  "ENTRA_INSTANCE": "{state.url}",\n'
        f'  "ENTRA_DEV_CA_BUNDLE": "{state.ca_bundle}",\n'
        f'  "ENTRA_TENANT_ID": "{state.home_tenant}",\n'
        f'  "ENTRA_CLIENT_ID": "{state.api_client_id}"\n'
        "Tokens: .venv/bin/python -m authorizer token --scope Orders.Read   (Ctrl-C stops the issuer)",
        flush=True,
    )
    try:
        stopping.wait()
    finally:
        issuer.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
