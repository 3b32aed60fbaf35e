"""Fetching a document: a true deadline for the whole exchange, and server-given delays read safely."""

from __future__ import annotations

import time

import pytest

from authorizer.fetch import FetchError, HttpJsonFetcher, parse_retry_after
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
