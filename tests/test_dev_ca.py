"""The local issuer's development CA: what a browser that trusts it would accept, and how to take it back."""

from __future__ import annotations

import datetime
import os
import shutil
import socket
import ssl
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from authorizer.devtools._dev_ca import CA_NICKNAME, ensure_certificates, trust, untrust


def leaf_signed_by_the_dev_ca(directory: Path, host: str) -> tuple[bytes, bytes]:
    """A server certificate for ``host`` signed with the development CA's own key (what malware could mint)."""
    ca_cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((directory / "ca-key.pem").read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def handshake(directory: Path, cert: bytes, key: bytes, host: str, tmp_path: Path) -> None:
    """A TLS handshake on loopback with a server certificate, by a client that trusts only the dev CA.

    Raises:
        ssl.SSLCertVerificationError: the client refused the certificate.
    """
    (tmp_path / "leaf.pem").write_bytes(cert)
    (tmp_path / "leaf-key.pem").write_bytes(key)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "leaf-key.pem")
    client_context = ssl.create_default_context(cafile=str(directory / "ca.pem"))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            connection, _ = listener.accept()
            try:
                with server_context.wrap_socket(connection, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass

        server = threading.Thread(target=serve)
        server.start()
        try:
            with socket.create_connection(("127.0.0.1", port)) as raw:
                with client_context.wrap_socket(raw, server_hostname=host):
                    pass
        finally:
            server.join(timeout=10)


@pytest.fixture
def dev_home(tmp_path: Path) -> Path:
    directory = tmp_path / "dev-home"
    ensure_certificates(directory)
    return directory


def test_a_certificate_it_signs_for_a_real_host_is_refused_by_a_client_that_trusts_it(
    dev_home: Path, tmp_path: Path
) -> None:
    # The CA's own leaf, for 127.0.0.1 and localhost, is accepted.
    served = ensure_certificates(dev_home)
    handshake(dev_home, served.cert.read_bytes(), served.key.read_bytes(), "localhost", tmp_path)
    # Its key, stolen, once signed a login.microsoftonline.com that any browser trusting it accepted.
    cert, key = leaf_signed_by_the_dev_ca(dev_home, "login.microsoftonline.com")
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(dev_home, cert, key, "login.microsoftonline.com", tmp_path)


def test_it_is_constrained_to_loopback_names_and_lives_for_months(dev_home: Path) -> None:
    ca = x509.load_pem_x509_certificate((dev_home / "ca.pem").read_bytes())
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    permitted = {str(name.value) for name in constraints.value.permitted_subtrees or []}
    assert permitted == {"localhost", "127.0.0.0/8", "::1/128"}
    basic = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca and basic.path_length == 0
    # Once valid until the year 3000.
    assert ca.not_valid_after_utc - ca.not_valid_before_utc <= datetime.timedelta(days=200)


def test_its_keys_are_private_from_the_start_in_a_private_folder(tmp_path: Path) -> None:
    directory = tmp_path / "dev-home"
    # A folder made earlier with the umask's 0755: tightened, never trusted as it is.
    directory.mkdir(mode=0o755)
    previous = os.umask(0)
    try:
        ensure_certificates(directory)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for name in ("ca-key.pem", "key.pem"):
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600, name


def test_an_unconstrained_ca_of_an_earlier_version_is_replaced(dev_home: Path) -> None:
    first = (dev_home / "ca.pem").read_bytes()
    ensure_certificates(dev_home)
    assert (dev_home / "ca.pem").read_bytes() == first, "a current CA is kept, so a browser's trust holds"
    # An earlier version's CA: no name constraints, valid for centuries.
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old")])
    now = datetime.datetime.now(datetime.UTC)
    old = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(datetime.datetime(3000, 1, 1, tzinfo=datetime.UTC))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (dev_home / "ca.pem").write_bytes(old.public_bytes(serialization.Encoding.PEM))
    ensure_certificates(dev_home)
    replaced = x509.load_pem_x509_certificate((dev_home / "ca.pem").read_bytes())
    assert replaced.extensions.get_extension_for_class(x509.NameConstraints)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    if shutil.which("certutil") is None:
        pytest.fail("certutil is missing: `make bootstrap` installs libnss3-tools")
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    yield folder


def nss_nicknames(home: Path) -> str:
    certutil = shutil.which("certutil") or "certutil"
    listed = subprocess.run(  # noqa: S603 - Debian's certutil on a temporary NSS database
        [certutil, "-L", "-d", f"sql:{home / '.pki' / 'nssdb'}"], capture_output=True, text=True, check=True
    )
    return listed.stdout


def test_trust_can_be_undone_and_a_renewed_ca_replaces_the_old_one(dev_home: Path, home: Path) -> None:
    trust(dev_home / "ca.pem")
    assert nss_nicknames(home).count(CA_NICKNAME) == 1
    # Trusting again (a renewed CA, say) leaves one CA of ours, not two.
    trust(dev_home / "ca.pem")
    assert nss_nicknames(home).count(CA_NICKNAME) == 1
    untrust()
    assert CA_NICKNAME not in nss_nicknames(home)
    # Undoing what was never done is no error.
    untrust()
