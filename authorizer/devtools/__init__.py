"""Development tools: the local Entra-shaped issuer, dev tokens and the local server. Never in Azure.

Everything here refuses to run unless AZURE_FUNCTIONS_ENVIRONMENT is Development, and the app
accepts what these tools produce only while its own settings point at a loopback issuer.
"""

from __future__ import annotations

import os

from ..errors import ConfigurationError
from ..settings import DEVELOPMENT


def require_development() -> None:
    """Refuse to run outside Development.

    Raises:
        ConfigurationError: naming AZURE_FUNCTIONS_ENVIRONMENT.
    """
    if os.environ.get("AZURE_FUNCTIONS_ENVIRONMENT", DEVELOPMENT) != DEVELOPMENT:
        raise ConfigurationError("AZURE_FUNCTIONS_ENVIRONMENT", "the development tools run only in Development")
