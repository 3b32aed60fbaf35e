"""The app settings `func start` takes from local.settings.json, read as Core Tools reads them.

`func start` sets each of ``Values`` as an environment variable of the app unless the environment
already holds a non-empty value for it, which then wins (Core Tools says "Skipping ... as it's
already defined in current environment variables").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .app_settings import DEVELOPMENT

FILE_NAME = "local.settings.json"
ENVIRONMENT = "AZURE_FUNCTIONS_ENVIRONMENT"


class LocalSettingsError(ValueError):
    """The file cannot serve as app settings; the message says why, never a value."""


@dataclass(frozen=True)
class LocalSettings:
    values: Mapping[str, str]

    @classmethod
    def read(cls, path: Path) -> LocalSettings:
        """Read the Values of the file.

        Raises:
            LocalSettingsError: not JSON, not shaped as Core Tools expects, not marked unencrypted,
                or a value that is a list or an object.
        """
        try:
            document = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError) as error:
            raise LocalSettingsError(f"{path} cannot be read: {type(error).__name__}") from None
        except json.JSONDecodeError as error:
            raise LocalSettingsError(f"{path} is not JSON (line {error.lineno}, column {error.colno})") from None
        if not isinstance(document, dict):
            raise LocalSettingsError(f"{path} must hold a JSON object")
        # Core Tools takes a missing IsEncrypted for true, and then fails to decrypt plain values.
        if document.get("IsEncrypted") is not False:
            raise LocalSettingsError(f"{path}: IsEncrypted must be false")
        values = document.get("Values") or {}
        if not isinstance(values, dict):
            raise LocalSettingsError(f"{path}: Values must be a JSON object")
        texts = {}
        for name, value in values.items():
            if value is None:
                continue
            text = _as_text(value)
            if text is None:
                # Core Tools then warns and starts the app with none of the Values.
                raise LocalSettingsError(f"{path}: Values.{name} must be a string")
            texts[name] = text
        return cls(texts)

    def under(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The environment ``func start`` gives the app: a non-empty variable already set wins."""
        merged = dict(environ)
        for name, value in self.values.items():
            if not environ.get(name):
                merged[name] = value
        return merged

    def overridden_by(self, environ: Mapping[str, str]) -> list[str]:
        """The settings of the file that the environment overrides, by name."""
        return sorted(name for name in self.values if environ.get(name))


def _as_text(value: object) -> str | None:
    """A value as Core Tools turns it into text (Json.NET's conversion); None for a list or object."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float):
        return str(value)
    return None


def func_start_environ(path: Path | None, environ: Mapping[str, str]) -> tuple[LocalSettings | None, dict[str, str]]:
    """The environment an app gets: under `func start` when there is a settings file, else as it is.

    ``path`` is the settings file (None: ./local.settings.json when there is one). Under `func start`
    its Values apply where the environment has no non-empty value, and AZURE_FUNCTIONS_ENVIRONMENT is
    Development unless one of them sets it, as Core Tools sets it. Without a file (in Azure, say) an
    unset variable stays unset, which the platform means as Production.

    Raises:
        LocalSettingsError: the file cannot serve as app settings.
    """
    if path is None:
        if not Path(FILE_NAME).is_file():
            return None, dict(environ)
        path = Path(FILE_NAME)
    settings = LocalSettings.read(path)
    merged = settings.under(environ)
    merged[ENVIRONMENT] = merged.get(ENVIRONMENT) or DEVELOPMENT
    return settings, merged
