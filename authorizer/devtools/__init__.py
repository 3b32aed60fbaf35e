"""Development tools: the local Entra-shaped issuer, dev tokens and the local server. Never in Azure.

What is promised is the commands (`python -m authorizer issuer`, `token`, `trust-dev-ca`), not the
modules here, whose names start with an underscore. Everything here refuses to run unless
AZURE_FUNCTIONS_ENVIRONMENT says Development, read as the app reads it (see ``require_development``),
and the app accepts what these tools produce only while its own settings point at a loopback issuer.
"""

from __future__ import annotations

import os

from .._errors import ConfigurationError
from .._settings.app_settings import DEVELOPMENT
from .._settings.local_settings import ENVIRONMENT, LocalSettingsError, func_start_environ


def require_development() -> None:
    """Refuse to run outside Development, by the rule the app and the doctor follow.

    The environment is the one an app in this folder would get: under `func start` beside a
    local.settings.json (Core Tools sets Development unless told otherwise), or as it is, where an
    unset variable means Production, as in Azure.

    Raises:
        ConfigurationError: naming AZURE_FUNCTIONS_ENVIRONMENT.
    """
    try:
        _, environ = func_start_environ(None, os.environ)
    except LocalSettingsError:
        environ = dict(os.environ)
    if environ.get(ENVIRONMENT) != DEVELOPMENT:
        raise ConfigurationError(
            ENVIRONMENT,
            "the development tools run only in Development: run them in your function app's folder beside its "
            "local.settings.json (func start runs the app in Development), or set AZURE_FUNCTIONS_ENVIRONMENT="
            "Development",
        )
