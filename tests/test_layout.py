"""The folder shows the architecture: rooms in layers, imports only run downwards, and only the promise is public.

The rule, kept by this suite rather than by memory: a module may import from its own room and from
rooms in lower layers, never from a room in its own layer or above. Type-only imports count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import authorizer

PACKAGE = Path(authorizer.__file__).parent
# Bottom first. Rooms in one layer may not import each other.
LAYERS: list[set[str]] = [
    {"_errors"},
    {"_settings"},
    {"_telemetry"},
    {"_remote"},
    {"_token"},
    {"_policy"},
    {"_downstream"},
    {"_functions"},
    {"_doctor", "devtools"},
    {"__init__", "__main__"},
]
LEVEL = {room: level for level, rooms in enumerate(LAYERS) for room in rooms}
# What an adopter may import or run: names without a leading underscore.
PUBLIC = {"__init__.py", "__main__.py", "py.typed", "devtools"}
MAX_LINES = 300
VAGUE_NAMES = {"utils", "util", "helpers", "helper", "common", "misc"}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def room_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def imported_rooms(source: str, package: list[str]) -> set[str]:
    """The rooms of authorizer that a module in ``package`` (its folder under authorizer) imports from."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = [*base, *(node.module.split(".") if node.module else [])]
                # "from . import x" at the top names a room itself; deeper, the folder is the room.
                found.update([target[0]] if target else [alias.name for alias in node.names])
            elif node.module and node.module.split(".")[0] == "authorizer":
                parts = node.module.split(".")[1:] or [alias.name for alias in node.names]
                found.add(parts[0])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[1] for alias in node.names if alias.name.startswith("authorizer."))
    return found


def rooms_imported_by(path: Path) -> set[str]:
    return imported_rooms(path.read_text(), list(path.relative_to(PACKAGE).parent.parts))


def test_every_module_belongs_to_a_room_of_a_layer() -> None:
    assert {room_of(path) for path in modules()} <= set(LEVEL)


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_only_run_downwards(path: Path) -> None:
    room = room_of(path)
    upward = sorted(
        other for other in rooms_imported_by(path) if other != room and other in LEVEL and LEVEL[other] >= LEVEL[room]
    )
    assert upward == [], f"{path.relative_to(PACKAGE)} (layer {LEVEL[room]}) imports from {upward}"


def test_the_layering_check_sees_every_spelling_of_an_import() -> None:
    # A checker that finds nothing passes everything.
    assert "_errors" in rooms_imported_by(PACKAGE / "_token" / "principal.py")
    probe = "from .._functions.answers import Answer\nimport authorizer._doctor.checks\nfrom ..devtools import _demo\n"
    assert imported_rooms(probe, ["_token"]) == {"_functions", "_doctor", "devtools"}
    assert imported_rooms("from . import _remote\nfrom ._errors import AuthError\n", []) == {"_remote", "_errors"}


def test_the_top_level_reads_as_the_architecture() -> None:
    entries = sorted(entry.name for entry in PACKAGE.iterdir() if entry.name != "__pycache__")
    assert len(entries) <= 14, entries
    # Everything but the promise starts with an underscore.
    assert {entry for entry in entries if not entry.startswith("_")} | {"__init__.py", "__main__.py"} == PUBLIC
    for room in (entry for entry in PACKAGE.iterdir() if entry.is_dir() and entry.name != "__pycache__"):
        docstring = ast.get_docstring(ast.parse((room / "__init__.py").read_text()))
        assert docstring and len(docstring.splitlines()) <= 6, f"{room.name} does not say what it owns"


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_modules_stay_small_and_say_what_they_are(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_LINES
    assert path.stem.lstrip("_") not in VAGUE_NAMES


def test_the_dev_tools_promise_their_commands_not_their_modules() -> None:
    inside = sorted(entry.name for entry in (PACKAGE / "devtools").glob("*.py"))
    assert [name for name in inside if not name.startswith("_")] == []
