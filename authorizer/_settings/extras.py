"""The package's extras (optional dependencies): found by their installed metadata, imported only when used."""

from __future__ import annotations

import importlib.metadata


def missing_distributions(*distributions: str) -> list[str]:
    """Those of ``distributions`` that are not installed; nothing of them is imported to tell."""
    missing = []
    for distribution in distributions:
        try:
            importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            missing.append(distribution)
    return missing
