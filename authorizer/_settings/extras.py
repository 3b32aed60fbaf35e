"""The package's extras (optional dependencies): found without importing them, imported only when used."""

from __future__ import annotations

from importlib.machinery import PathFinder

# The module each extra's distribution provides. Looking a module up costs a path search; reading
# installed metadata (importlib.metadata) costs about 8 ms of imports at the app's load.
_MODULES = {
    "limits": "limits",
    "redis": "redis",
    "msal": "msal",
    "azure-keyvault-secrets": "azure.keyvault.secrets",
    "azure-identity": "azure.identity",
}


def missing_distributions(*distributions: str) -> list[str]:
    """Those of ``distributions`` whose module cannot be found; nothing of them is imported to tell."""
    return [name for name in distributions if not _findable(_MODULES.get(name, name.replace("-", "_")))]


def _findable(module: str) -> bool:
    # Package by package along sys.path, importing none of them: importlib.util.find_spec would
    # import azure.keyvault to find azure.keyvault.secrets.
    locations: list[str] | None = None
    parts = module.split(".")
    for depth in range(1, len(parts) + 1):
        spec = PathFinder.find_spec(".".join(parts[:depth]), locations)
        if spec is None:
            return False
        if depth < len(parts):
            if spec.submodule_search_locations is None:
                return False
            locations = list(spec.submodule_search_locations)
    return True
