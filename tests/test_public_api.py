"""The public surface: every name in __all__ imports, and the package ships its types."""

from __future__ import annotations

import importlib
from pathlib import Path

import authorizer


def test_every_name_in_all_is_importable() -> None:
    module = importlib.import_module("authorizer")
    missing = [name for name in authorizer.__all__ if not hasattr(module, name)]
    assert missing == []
    assert len(set(authorizer.__all__)) == len(authorizer.__all__)


def test_the_package_ships_py_typed() -> None:
    assert (Path(authorizer.__file__).parent / "py.typed").is_file()
