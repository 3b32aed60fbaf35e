"""Where the development tools keep their state: one folder per user, shared by every app folder.

The local issuer's CA lives there (so that a browser trusts it once, not once per run), and so does
the address of the running issuer (so that `python -m authorizer token` finds it from any folder).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

# The local issuer's fixed port: a browser's trust and a local.settings.json stay valid across runs.
DEFAULT_ISSUER_PORT = 7443
HOME_TENANT = "11111111-1111-4111-8111-111111111111"
API_CLIENT_ID = "aaaaaaaa-0000-4000-8000-00000000a91e"
SPA_CLIENT_ID = "bbbbbbbb-0000-4000-8000-0000000005ba"
DAEMON_CLIENT_ID = "cccccccc-0000-4000-8000-0000000000dd"
# In the state folder while an issuer runs: where it is, for the token command.
STATE_FILE = "issuer.json"


def dev_home() -> Path:
    """$XDG_DATA_HOME/entra-functions-authorizer, or ~/.local/share/entra-functions-authorizer."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "entra-functions-authorizer"


def issuer_port() -> int:
    return int(os.environ.get("LOCAL_ISSUER_PORT", DEFAULT_ISSUER_PORT))


@dataclass(frozen=True)
class IssuerState:
    """What a running issuer tells its clients: where it is, which CA to trust, whom it serves."""

    url: str
    ca_bundle: str
    api_client_id: str
    home_tenant: str
    # The development managed identity, as App Service publishes one (for downstream tokens).
    identity_endpoint: str = ""
    identity_header: str = ""

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> IssuerState:
        """Read the state a running issuer saved.

        Raises:
            FileNotFoundError: with the command that starts an issuer.
        """
        if not path.is_file():
            raise FileNotFoundError(
                f"no local issuer has run for this user ({path} is missing): start one with "
                "`python -m authorizer issuer` (or `make demo` in the sample app)"
            )
        return cls(**json.loads(path.read_text()))

    def settings(self) -> dict[str, str]:
        """The app settings that point a function app at this issuer (for local.settings.json)."""
        settings = {
            "ENTRA_INSTANCE": self.url,
            "ENTRA_DEV_CA_BUNDLE": self.ca_bundle,
            "ENTRA_TENANT_ID": self.home_tenant,
            "ENTRA_CLIENT_ID": self.api_client_id,
        }
        if self.identity_endpoint:
            # Downstream tokens, secretless: the local issuer plays the function app's managed identity.
            settings |= {
                "ENTRA_CLIENT_CREDENTIAL": "managed_identity",
                "IDENTITY_ENDPOINT": self.identity_endpoint,
                "IDENTITY_HEADER": self.identity_header,
            }
        return settings


IDENTITY_HEADER_FILE = "identity-header"


def identity_header(directory: Path) -> str:
    """The development identity endpoint's secret: made once per user and kept, so local settings stay valid."""
    path = directory / IDENTITY_HEADER_FILE
    if path.is_file():
        return path.read_text().strip()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = secrets.token_hex(16)
    # Readable by its owner only, from the first byte.
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(secret)
    return secret
