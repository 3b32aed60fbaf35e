"""The public surface: every name in __all__ imports, and the package ships its types."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import authorizer


def test_every_name_in_all_is_importable() -> None:
    module = importlib.import_module("authorizer")
    missing = [name for name in authorizer.__all__ if not hasattr(module, name)]
    assert missing == []
    assert len(set(authorizer.__all__)) == len(authorizer.__all__)


def test_the_package_ships_py_typed() -> None:
    assert (Path(authorizer.__file__).parent / "py.typed").is_file()


# The promise, written out: a name added or dropped here is a change of the public API (CHANGELOG).
PUBLIC_NAMES = {
    "AuthError",
    "AuthSettings",
    "Blueprint",
    "ConfigurationError",
    "DownstreamConsentRequired",
    "DownstreamCredentialError",
    "DownstreamError",
    "DownstreamInteractionRequired",
    "DownstreamUnavailable",
    "Forbidden",
    "FunctionApp",
    "FunctionKeyRouteError",
    "InsufficientScope",
    "InvalidToken",
    "KeysUnavailable",
    "MissingCredentials",
    "Principal",
    "RefreshingTenantPolicy",
    "StaticTenantPolicy",
    "TemporarilyUnavailable",
    "TenantListUnavailable",
    "TenantNotAllowed",
    "TenantPolicy",
    "TenantPolicyContext",
    "UnprotectedFunctionError",
    "acquire_app_token",
    "acquire_app_token_async",
    "allow_anonymous",
    "configure",
    "define_permissions",
    "raise_for_claims_challenge",
    "reset",
    "require_auth",
    "verify_protected",
}
COMMANDS = {"doctor", "issuer", "token", "trust-dev-ca", "local-settings"}


def test_the_public_names_are_the_promised_ones() -> None:
    assert set(authorizer.__all__) == PUBLIC_NAMES
    # Each is the object an adopter's code and docs name, from wherever it lives inside.
    assert authorizer.require_auth.__module__.startswith("authorizer.")


def test_every_command_answers_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    from authorizer.__main__ import COMMANDS as REGISTERED
    from authorizer.__main__ import main

    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    listed = capsys.readouterr().out
    assert all(command in listed for command in COMMANDS)
    assert set(REGISTERED) == COMMANDS
    for command in COMMANDS:
        with pytest.raises(SystemExit) as caught:
            main([command, "--help"])
        assert caught.value.code == 0, command
        assert "usage: python -m authorizer " + command in capsys.readouterr().out
