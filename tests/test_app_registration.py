"""The registration manifests in docs/ match what the app's functions actually require."""

from __future__ import annotations

import importlib
import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import authorizer
import authorizer._functions.runtime
from authorizer._functions.markers import protection_of
from authorizer._policy.requirements import Requirement
from tests.conftest import ConfigureAuth

MANIFESTS = Path(__file__).resolve().parents[1] / "docs" / "app-registration"


def manifest(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((MANIFESTS / name).read_text())
    return document


@pytest.fixture
def requirements(configure_auth: ConfigureAuth) -> Iterator[list[Requirement]]:
    sys.modules.pop("function_app", None)
    module = importlib.import_module("function_app")
    found = [protection_of(function.get_user_function()) for function in module.app.get_functions()]
    yield [item for item in found if isinstance(item, Requirement)]
    sys.modules.pop("function_app", None)
    authorizer.configure(tenant_policy=None)


def test_every_scope_and_role_the_functions_use_is_registered(requirements: list[Requirement]) -> None:
    api = manifest("api.json")
    scopes = {scope["value"] for scope in api["api"]["oauth2PermissionScopes"]}
    user_roles = {role["value"] for role in api["appRoles"] if "User" in role["allowedMemberTypes"]}
    app_roles = {role["value"] for role in api["appRoles"] if "Application" in role["allowedMemberTypes"]}
    assert len(requirements) >= 8
    for requirement in requirements:
        assert requirement.scopes <= scopes
        assert requirement.roles <= user_roles
        assert requirement.app_roles <= app_roles
        # Effective permissions come from users (through scopes) and from daemons alike.
        assert requirement.permissions <= user_roles & app_roles
    mapping = authorizer._functions.runtime.permissions()
    assert mapping is not None
    for scope, implied in mapping.implied_roles.items():
        assert scope in scopes
        assert implied <= user_roles


def test_the_registration_asks_for_v2_tokens_and_the_claims_the_policy_reads() -> None:
    api = manifest("api.json")
    assert api["api"]["requestedAccessTokenVersion"] == 2
    # idtyp tells app-only tokens, acct guests, xms_cc the clients that can answer a claims challenge.
    assert {claim["name"] for claim in api["optionalClaims"]["accessToken"]} == {"idtyp", "acct", "xms_cc"}


def test_ids_are_unique_guids_and_clients_reference_real_ones() -> None:
    api = manifest("api.json")
    scope_ids = {scope["id"]: scope["value"] for scope in api["api"]["oauth2PermissionScopes"]}
    role_ids = {role["id"]: role["value"] for role in api["appRoles"]}
    ids = [*scope_ids, *role_ids]
    assert len(set(ids)) == len(ids)
    assert all(str(uuid.UUID(value)) == value for value in ids)
    for client, kind, known in (("spa.json", "Scope", scope_ids), ("daemon.json", "Role", role_ids)):
        accesses = manifest(client)["requiredResourceAccess"][0]["resourceAccess"]
        assert accesses and all(access["type"] == kind and access["id"] in known for access in accesses)
