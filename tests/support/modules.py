"""Importing a function app from a folder, as the worker does, and forgetting it afterwards."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path
from typing import Any


def import_module_from(directory: Path, name: str, source: str | None = None) -> Any:
    """Import `name` from `directory`, writing `source` there first when given."""
    if source is not None:
        (directory / f"{name}.py").write_text(textwrap.dedent(source))
    sys.modules.pop(name, None)
    sys.path.insert(0, str(directory))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(directory))
        sys.modules.pop(name, None)
