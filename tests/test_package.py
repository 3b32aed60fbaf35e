"""The installable package: what the wheel holds, what its metadata promises, and the sample's requirements."""

from __future__ import annotations

import re
import tomllib
import zipfile
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import authorizer
from tests.support.advisories import ADVISORIES

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def test_the_wheel_holds_the_library_and_nothing_of_the_sample_app(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    library = [name for name in names if not name.startswith("entra_functions_authorizer-")]
    assert library, names
    assert all(name.startswith("authorizer/") for name in library), library
    assert "authorizer/py.typed" in library
    assert "authorizer/_remote/key_vault.py" in library
    assert not [name for name in library if "__pycache__" in name or name.endswith(".pyc")]


def test_the_wheel_metadata_names_the_version_the_dependencies_and_the_extras(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    metadata_name = next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
    metadata = HeaderParser().parsestr(archive.read(metadata_name).decode())
    assert metadata["Name"] == "entra-functions-authorizer"
    assert metadata["Version"] == authorizer.__version__
    requires = metadata.get_all("Requires-Dist") or []
    for dependency in ("azure-functions", "pyjwt", "cryptography", "requests"):
        assert any(line.lower().startswith(dependency) for line in requires), requires
    assert any("azure-keyvault-secrets" in line and "extra == 'keyvault'" in line for line in requires), requires
    assert set(metadata.get_all("Provides-Extra") or []) >= {"keyvault", "dev", "ratelimit"}


def test_the_changelog_has_an_entry_for_this_version() -> None:
    assert f"## {authorizer.__version__} - " in (REPO / "CHANGELOG.md").read_text()


def test_the_sample_apps_requirements_are_the_packages_dependencies_and_the_extras_it_uses() -> None:
    # The sample ships the library as a folder: its requirements must be exactly what the package asks for.
    listed = [
        line.strip()
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    project = PYPROJECT["project"]
    extras = project["optional-dependencies"]
    used = [*extras["keyvault"], *extras["downstream"], *extras["ratelimit"]]
    assert sorted(listed) == sorted([*project["dependencies"], *used])


def test_the_version_is_written_once() -> None:
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", authorizer.__version__)


REQUIREMENT_FILES = ["requirements.txt", "requirements-dev.txt", "tests/worker/requirements.txt"]


def declared_requirements() -> list[tuple[str, Requirement]]:
    """Every requirement we declare: the package's dependencies and extras, and each requirements file."""
    project = PYPROJECT["project"]
    found = [("pyproject.toml", Requirement(line)) for line in project["dependencies"]]
    for extra, lines in project["optional-dependencies"].items():
        found += [(f"pyproject.toml [{extra}]", Requirement(line)) for line in lines]
    for name in REQUIREMENT_FILES:
        for line in (REPO / name).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                found.append((name, Requirement(line)))
    return found


def test_no_dependency_floor_admits_a_version_with_a_known_advisory() -> None:
    declared = declared_requirements()
    for advisory in ADVISORIES:
        fixed = Version(advisory.fixed_in)
        named = [
            (where, req)
            for where, req in declared
            if canonicalize_name(req.name) == canonicalize_name(advisory.distribution)
        ]
        assert named, f"{advisory.distribution} is declared nowhere"
        for where, requirement in named:
            floors = [
                Version(spec.version) for spec in requirement.specifier if spec.operator in (">=", "==", "~=", ">")
            ]
            # Once urllib3>=2,<3 admitted 2.0-2.5 (an 822-byte answer inflated to about 805 MB).
            assert floors and max(floors) >= fixed, (
                f"{where}: {requirement} admits versions before {fixed} ({advisory.advisories})"
            )
