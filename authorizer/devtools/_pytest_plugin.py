"""The pytest plugin: the ``entra`` fixture, real tokens for an app's own protected functions.

Registered by the package (entry point ``pytest11``), so an app that installs it has the fixture in its
tests with nothing to import. A session-wide local issuer over loopback TLS (its keys served by a
real JWKS endpoint) signs real RS256 tokens; for each test the library is configured against it, with
the app's own client id and tenant, read from local.settings.json as `func start` reads it, or named
by ``@pytest.mark.entra(client_id=..., tenant_id=..., ENTRA_ALLOWED_TENANTS=...)``.

When the app folder (pytest's rootdir) holds a local.settings.json, its Values become environment
variables for the test run wherever the environment has none, as `func start` does, so that
importing function_app in a test module finds its settings.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ._entra_testing import Entra
    from ._issuer import LocalEntraIssuer

MARKER = "entra"
# The environment variables this run added from local.settings.json.
_ADDED = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(client_id=None, tenant_id=None, **settings): the API and app settings the entra fixture "
        "configures for this test",
    )
    settings = config.rootpath / "local.settings.json"
    if not settings.is_file():
        return
    from .._settings.local_settings import LocalSettings, LocalSettingsError

    try:
        values = LocalSettings.read(settings).values
    except LocalSettingsError:
        # A run that never asks for the fixture must not stop here; one that does is told why by it.
        return
    # As func start: each Value unless the environment already holds a non-empty one.
    added = {name: value for name, value in values.items() if not os.environ.get(name)}
    os.environ.update(added)
    config.stash[_ADDED] = list(added)


def pytest_unconfigure(config: pytest.Config) -> None:
    # What the run added goes with it (a pytester run inside another must not leave it behind).
    for name in config.stash.get(_ADDED, []):
        os.environ.pop(name, None)


@pytest.fixture(scope="session")
def entra_issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEntraIssuer]:
    """The local issuer, once per test session, with its own CA in a temporary folder."""
    from ._issuer import LocalEntraIssuer

    issuer = LocalEntraIssuer(tmp_path_factory.mktemp("entra-issuer")).start()
    yield issuer
    issuer.stop()


@pytest.fixture
def entra(entra_issuer: LocalEntraIssuer, request: pytest.FixtureRequest) -> Iterator[Entra]:
    """The library configured against the local issuer for this test; ``entra.token(...)`` mints tokens."""
    from ._entra_testing import Entra

    marker = request.node.get_closest_marker(MARKER)
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    testing = Entra.begin(
        entra_issuer,
        folder=request.config.rootpath,
        client_id=options.pop("client_id", None),
        tenant_id=options.pop("tenant_id", None),
        settings={name: str(value) for name, value in options.items()},
    )
    yield testing
    testing.end()
