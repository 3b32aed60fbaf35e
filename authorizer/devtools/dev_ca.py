"""The local issuer's TLS certificate, from a CA made once per user, and trusting that CA in a browser.

MSAL.js refuses an http authority, so the issuer serves TLS. Its CA is kept (like mkcert's) so that a
browser told to trust it once keeps trusting it across runs. It is a development CA: it lives in the
user's own folder, and nothing of the app ever trusts it outside Development.
"""

from __future__ import annotations

import datetime
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

CA_NICKNAME = "entra-functions-authorizer local issuer CA"
# Reissued before it runs out, from the same CA, so the browser's trust still holds.
LEAF_DAYS = 365
RENEW_WITHIN_DAYS = 30


class Certificates(NamedTuple):
    ca_bundle: Path
    cert: Path
    key: Path


def ensure_certificates(directory: Path) -> Certificates:
    """The CA (made on first use) and a current certificate for 127.0.0.1 and localhost it signed."""
    # trustme is a development requirement (the dev extra): imported only here.
    import trustme

    directory.mkdir(parents=True, exist_ok=True)
    paths = Certificates(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    ca_key = directory / "ca-key.pem"
    if paths.ca_bundle.is_file() and ca_key.is_file():
        authority = trustme.CA.from_pem(paths.ca_bundle.read_bytes(), ca_key.read_bytes())
    else:
        authority = trustme.CA(organization_name="entra-functions-authorizer (development)")
        authority.cert_pem.write_to_path(str(paths.ca_bundle))
        _write_private(ca_key, authority.private_key_pem.bytes())
    if not _current(paths.cert):
        now = datetime.datetime.now(datetime.UTC)
        leaf = authority.issue_cert(
            "127.0.0.1", "localhost", not_before=now, not_after=now + datetime.timedelta(days=LEAF_DAYS)
        )
        paths.cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        _write_private(paths.key, leaf.private_key_pem.bytes())
    return paths


def _current(cert: Path) -> bool:
    if not cert.is_file():
        return False
    from cryptography import x509

    expires = x509.load_pem_x509_certificate(cert.read_bytes()).not_valid_after_utc
    return expires - datetime.datetime.now(datetime.UTC) > datetime.timedelta(days=RENEW_WITHIN_DAYS)


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


def trust_commands(ca_bundle: Path) -> list[list[str]]:
    """The commands that make this user's browsers trust the CA: Chromium's NSS store on Linux,
    the login keychain on macOS, the user's root store on Windows."""
    system = platform.system()
    if system == "Darwin":
        keychain = str(Path.home() / "Library" / "Keychains" / "login.keychain-db")
        return [["security", "add-trusted-cert", "-r", "trustRoot", "-k", keychain, str(ca_bundle)]]
    if system == "Windows":
        return [["certutil", "-user", "-addstore", "Root", str(ca_bundle)]]
    database = Path.home() / ".pki" / "nssdb"
    commands = []
    if not (database / "cert9.db").is_file():
        commands.append(["certutil", "-d", f"sql:{database}", "-N", "--empty-password"])
    commands.append(["certutil", "-d", f"sql:{database}", "-A", "-t", "C,,", "-n", CA_NICKNAME, "-i", str(ca_bundle)])
    return commands


def trust(ca_bundle: Path) -> list[str]:
    """Run ``trust_commands``; returns what ran, as shell lines.

    Raises:
        FileNotFoundError: the tool is missing, with how to install it.
        subprocess.CalledProcessError: a command failed.
    """
    commands = trust_commands(ca_bundle)
    tool = commands[0][0]
    if shutil.which(tool) is None:
        hint = "sudo apt-get install libnss3-tools" if tool == "certutil" and os.name == "posix" else ""
        raise FileNotFoundError(f"{tool} is needed to trust the CA{': ' + hint if hint else ''}")
    if platform.system() not in ("Darwin", "Windows"):
        (Path.home() / ".pki" / "nssdb").mkdir(parents=True, exist_ok=True)
    for command in commands:
        subprocess.run(command, check=True, capture_output=True, timeout=60)  # noqa: S603 - fixed commands
    return [" ".join(command) for command in commands]
