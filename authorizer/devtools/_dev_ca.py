"""The local issuer's TLS certificate, from a CA made per user, and trusting that CA in a browser.

MSAL.js refuses an http authority, so the issuer serves TLS. Its CA is kept (like mkcert's) so that a
browser told to trust it once keeps trusting it across runs. Because a browser that trusts it would
believe whatever it signs, it is fenced in: name constraints admit only loopback addresses and
``localhost``, it lives for months, and its key is private to the user from the moment it exists.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NICKNAME = "entra-functions-authorizer local issuer CA"
ORGANIZATION = "entra-functions-authorizer (development)"
# What the CA may vouch for, and nothing else (RFC 5280 name constraints, honoured by browsers).
LOOPBACK_NAMES: tuple[x509.GeneralName, ...] = (
    x509.DNSName("localhost"),
    x509.IPAddress(ipaddress.ip_network("127.0.0.0/8")),
    x509.IPAddress(ipaddress.ip_network("::1/128")),
)
CA_DAYS = 180
LEAF_DAYS = 90
# Reissued before it runs out: the leaf from the same CA (the browser's trust holds), the CA anew.
RENEW_WITHIN_DAYS = 30


class Certificates(NamedTuple):
    ca_bundle: Path
    cert: Path
    key: Path


def ensure_certificates(directory: Path) -> Certificates:
    """The CA (made when there is no current one) and a current certificate it signed for 127.0.0.1 and localhost."""
    _private_folder(directory)
    paths = Certificates(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    ca_key_path = directory / "ca-key.pem"
    ca = _current_ca(paths.ca_bundle, ca_key_path)
    if ca is None:
        ca = _new_ca()
        _write_private(ca_key_path, _pem_key(ca[1]))
        paths.ca_bundle.write_bytes(ca[0].public_bytes(serialization.Encoding.PEM))
        paths.cert.unlink(missing_ok=True)
    if not _current(paths.cert, ca[0]):
        cert, key = _new_leaf(*ca)
        _write_private(paths.key, _pem_key(key))
        paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return paths


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _new_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    name = _name(CA_NICKNAME)
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        # A stolen key can mint certificates for this machine's loopback names only, never for a real host.
        .add_extension(x509.NameConstraints(permitted_subtrees=list(LOOPBACK_NAMES), excluded_subtrees=None), True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _new_leaf(
    ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(min(now + datetime.timedelta(days=LEAF_DAYS), ca.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _current_ca(cert_path: Path, key_path: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    """The kept CA, unless it is missing, near its end, or of an earlier kind (unconstrained, long-lived)."""
    if not cert_path.is_file() or not key_path.is_file():
        return None
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        cert.extensions.get_extension_for_class(x509.NameConstraints)
    except (ValueError, x509.ExtensionNotFound):
        return None
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or lifetime > datetime.timedelta(days=CA_DAYS + 1):
        return None
    if cert.not_valid_after_utc - _now() < datetime.timedelta(days=RENEW_WITHIN_DAYS):
        return None
    return cert, key


def _current(cert_path: Path, ca: x509.Certificate) -> bool:
    if not cert_path.is_file():
        return False
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    if cert.issuer != ca.subject:
        return False
    return cert.not_valid_after_utc - _now() > datetime.timedelta(days=RENEW_WITHIN_DAYS)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _private_folder(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    # A folder an earlier version made with the umask's 0755 is tightened too.
    directory.chmod(0o700)


def _write_private(path: Path, data: bytes) -> None:
    """Write a key readable by its owner only from the first byte (never written, then chmod'ed)."""
    fresh = path.with_name(path.name + ".new")
    fresh.unlink(missing_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(fresh, flags, 0o600), "wb") as file:
        file.write(data)
    os.replace(fresh, path)


def trust_commands(ca_bundle: Path) -> list[list[str]]:
    """The commands that make this user's browsers trust the CA: Chromium's NSS store on Linux,
    the login keychain on macOS, the user's root store on Windows."""
    system = platform.system()
    if system == "Darwin":
        return [["security", "add-trusted-cert", "-r", "trustRoot", "-k", str(_keychain()), str(ca_bundle)]]
    if system == "Windows":
        return [["certutil", "-user", "-addstore", "Root", str(ca_bundle)]]
    database = _nss_database()
    commands = []
    if not (database / "cert9.db").is_file():
        commands.append(["certutil", "-d", f"sql:{database}", "-N", "--empty-password"])
    commands.append(["certutil", "-d", f"sql:{database}", "-A", "-t", "C,,", "-n", CA_NICKNAME, "-i", str(ca_bundle)])
    return commands


def untrust_command() -> list[str]:
    """The command that removes one of our CAs from this user's store (repeated until none is left)."""
    system = platform.system()
    if system == "Darwin":
        return ["security", "delete-certificate", "-c", CA_NICKNAME, "-t", str(_keychain())]
    if system == "Windows":
        return ["certutil", "-user", "-delstore", "Root", CA_NICKNAME]
    return ["certutil", "-d", f"sql:{_nss_database()}", "-D", "-n", CA_NICKNAME]


def trust(ca_bundle: Path) -> list[str]:
    """Replace any CA of ours the user trusts with this one; returns what ran, as shell lines.

    Raises:
        FileNotFoundError: the tool is missing, with how to install it.
        subprocess.CalledProcessError: a command failed.
    """
    commands = trust_commands(ca_bundle)
    _require_tool(commands[0][0])
    if platform.system() not in ("Darwin", "Windows"):
        _nss_database().mkdir(parents=True, exist_ok=True)
    # A renewed CA replaces the earlier one: no expired or unconstrained CA of ours is left trusted.
    ran = untrust()
    for command in commands:
        subprocess.run(command, check=True, capture_output=True, timeout=60)  # noqa: S603 - fixed commands
    return ran + [" ".join(command) for command in commands]


# More of our CAs than any user has trusted: the removal stops here whatever the store answers.
MAX_REMOVALS = 20


def untrust() -> list[str]:
    """Remove every CA of ours from this user's browser store; returns what ran (nothing when none was there).

    Raises:
        FileNotFoundError: the tool is missing, with how to install it.
    """
    command = untrust_command()
    _require_tool(command[0])
    if platform.system() not in ("Darwin", "Windows") and not (_nss_database() / "cert9.db").is_file():
        return []
    ran = []
    for _ in range(MAX_REMOVALS):
        # Each run removes one; the store says no once none of ours is left.
        done = subprocess.run(command, capture_output=True, timeout=60, check=False)  # noqa: S603 - fixed command
        if done.returncode != 0:
            break
        ran.append(" ".join(command))
    return ran


def _require_tool(tool: str) -> None:
    if shutil.which(tool) is None:
        hint = "sudo apt-get install libnss3-tools" if tool == "certutil" and os.name == "posix" else ""
        raise FileNotFoundError(f"{tool} is needed to trust the CA{': ' + hint if hint else ''}")


def _nss_database() -> Path:
    return Path.home() / ".pki" / "nssdb"


def _keychain() -> Path:
    return Path.home() / "Library" / "Keychains" / "login.keychain-db"
