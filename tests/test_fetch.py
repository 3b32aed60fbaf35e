"""Fetching a document: a true deadline for the whole exchange, and server-given delays read safely."""

from __future__ import annotations

import gzip
import json
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import trustme

from authorizer._remote.deadline import Deadline
from authorizer._remote.fetch import FetchError, HttpJsonFetcher, parse_retry_after
from tests.support.entra import HOME_TENANT
from tests.support.issuer import Fault, LocalIssuer

DEADLINE = 0.5


@pytest.mark.parametrize("fault", [Fault(trickle_headers=True), Fault(trickle_body=True)], ids=["headers", "body"])
def test_a_trickling_peer_cannot_stretch_a_fetch_past_its_deadline(issuer: LocalIssuer, fault: Fault) -> None:
    # Each byte arrives well inside any per-read timeout; the answer as a whole takes tens of seconds.
    issuer.fault("metadata-v2", fault)
    fetch = HttpJsonFetcher(DEADLINE)
    started = time.monotonic()
    with pytest.raises(FetchError, match="deadline"):
        fetch(f"{issuer.base_url}/{HOME_TENANT}/v2.0/.well-known/openid-configuration")
    elapsed = time.monotonic() - started
    # Once 6 s for a 1 s setting: the deadline was checked only between 16 KiB chunks.
    assert elapsed < DEADLINE + 0.5
    issuer.heal()
    assert fetch(f"{issuer.base_url}/{HOME_TENANT}/v2.0/.well-known/openid-configuration")["issuer"]


def test_a_fetch_well_inside_its_deadline_is_unaffected(issuer: LocalIssuer) -> None:
    fetch = HttpJsonFetcher(DEADLINE)
    for _ in range(3):
        assert fetch(f"{issuer.base_url}/{HOME_TENANT}/discovery/v2.0/keys")["keys"]


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 30 ", 30.0),
        ("0", 0.0),
        # Digits of other scripts pass str.isdigit and then fail float(): once a ValueError.
        ("²", None),
        ("١٢٠", None),
        ("-5", None),
        ("1e9", None),
        ("12.5", None),
        ("", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("Thu, 99 Foo 2015 99:99:99 GMT", None),
    ],
)
def test_retry_after_is_read_as_delta_seconds_or_a_date_without_raising(header: str, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_an_enormous_retry_after_is_a_finite_number() -> None:
    # 400 digits once parsed to infinity, and every later answer crashed on it.
    value = parse_retry_after("9" * 400)
    assert value is not None and value < 1e12
    far = parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT")
    assert far is not None and far < 1e12


def test_a_deadline_cuts_a_tls_connection_without_leaving_it_readable_in_plaintext(tmp_path: Path) -> None:
    # SSLSocket.shutdown drops the TLS layer first: bytes an on-path attacker queued behind the TLS
    # stream were then read as plaintext, and could complete a JWKS with a key of their own.
    authority = trustme.CA()
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        raw_client = socket.create_connection(listener.getsockname())
        raw_server, _ = listener.accept()
        server_side: list[ssl.SSLSocket] = []
        handshake = threading.Thread(
            target=lambda: server_side.append(server_context.wrap_socket(raw_server, server_side=True))
        )
        handshake.start()
        client = client_context.wrap_socket(raw_client, server_hostname="127.0.0.1")
        handshake.join(timeout=10)
        try:
            server_side[0].sendall(b"HTTP/1.1 200 OK\r\n")
            assert client.recv(100) == b"HTTP/1.1 200 OK\r\n"
            # The attacker's plaintext, written under the TLS layer, waits in the client's buffer.
            with socket.socket(fileno=os.dup(server_side[0].fileno())) as under_tls:
                under_tls.sendall(b'{"keys": [{"kid": "attacker"}]}')
            assert select.select([client], [], [], 5)[0]
            with Deadline(0) as deadline:
                deadline.watch(client)
                assert deadline.wait_expired(5)
            try:
                read = client.recv(100)
            except (ssl.SSLError, OSError):
                read = b""
            assert b"attacker" not in read
            # And the connection was cut: the peer reads the end of the stream.
            with socket.socket(fileno=os.dup(server_side[0].fileno())) as peer:
                peer.settimeout(5)
                assert peer.recv(1) == b""
        finally:
            client.close()
            server_side[0].close()


def test_a_timer_that_fires_after_the_exchange_never_cuts_the_connection_it_has_handed_on() -> None:
    # The connection goes back to the pool inside the exchange; a timer already on its way must let it be.
    left, right = socket.socketpair()
    try:
        with Deadline(60) as deadline:
            pass
        deadline._expire(left)  # what a timer that woke as the exchange ended would do
        assert not deadline.expired
        right.sendall(b"still open")
        assert left.recv(100) == b"still open"
    finally:
        left.close()
        right.close()


def test_fetches_ask_for_no_encoding_and_refuse_one_they_did_not_ask_for(issuer: LocalIssuer) -> None:
    url = f"{issuer.base_url}/{HOME_TENANT}/discovery/v2.0/keys"
    # 822 bytes on the wire once made the fetcher inflate about 805 MB before the size cap refused it.
    document = json.dumps({"keys": [], "padding": "x" * (4 * 1024 * 1024)}).encode()
    bomb = gzip.compress(gzip.compress(document))
    assert len(bomb) < 20_000
    issuer.fault("jwks", Fault(body=bomb, headers={"Content-Encoding": "gzip, gzip"}))
    fetch = HttpJsonFetcher(5)
    with pytest.raises(FetchError, match="Content-Encoding"):
        fetch(url)
    assert issuer.request_headers["jwks"]["Accept-Encoding"] == "identity"
    issuer.heal()
    assert fetch(url)["keys"]


def test_name_resolution_is_inside_the_deadline(issuer: LocalIssuer) -> None:
    # No socket timeout covers the system resolver (glibc may take 30 s): a resolver that never answers.
    answering = threading.Event()
    asked: list[str] = []

    def silent_resolver(host: str, port: int, *rest: object) -> Sequence[tuple[Any, ...]]:
        asked.append(host)
        answering.wait(30)
        return socket.getaddrinfo("127.0.0.1", port, 0, socket.SOCK_STREAM)

    fetch = HttpJsonFetcher(DEADLINE, resolve=silent_resolver)
    started = time.monotonic()
    try:
        with pytest.raises(FetchError, match="deadline"):
            fetch(f"http://issuer.invalid:{issuer.port}/{HOME_TENANT}/discovery/v2.0/keys")
        assert time.monotonic() - started < DEADLINE + 0.5
        assert asked == ["issuer.invalid"]
    finally:
        answering.set()
    # A resolver that answers in time: the exchange goes to the address it gave, named as asked.
    quick = HttpJsonFetcher(DEADLINE, resolve=lambda host, port, *rest: socket.getaddrinfo("127.0.0.1", port))
    assert quick(f"http://issuer.invalid:{issuer.port}/{HOME_TENANT}/discovery/v2.0/keys")["keys"]
    assert issuer.request_headers["jwks"]["Host"] == f"issuer.invalid:{issuer.port}"
