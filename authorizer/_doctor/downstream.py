"""The doctor's look at downstream calls: the credential chosen, the managed identity, and Entra's answer.

Shown when a setting says the app calls downstream APIs (ENTRA_CLIENT_CREDENTIAL, even at its default
managed_identity, or a certificate or secret). The last check asks Entra for an app token for this API
itself: the one request that proves the whole chain (assertion, federated credential, token endpoint)
without any other API's consent.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping

from .._downstream.settings import CERTIFICATE, MANAGED_IDENTITY, SECRET, DownstreamSettings
from .._errors import ConfigurationError, DownstreamError
from .._settings.app_settings import AuthSettings
from .._settings.extras import missing_distributions
from .checks import Check, setting_failure

TITLE = "downstream credential"
# Any of these says the app calls downstream APIs.
SAYS_DOWNSTREAM = (
    "ENTRA_CLIENT_CREDENTIAL",
    "ENTRA_CLIENT_SECRET",
    "ENTRA_CLIENT_CERTIFICATE",
    "ENTRA_CLIENT_CERTIFICATE_PATH",
    "ENTRA_MANAGED_IDENTITY_CLIENT_ID",
)
FEDERATED_FIX = (
    "Trust the function app's managed identity from the API's registration: az ad app federated-credential create "
    '--id <API client id> --parameters \'{"name": "functions-mi", "issuer": '
    '"https://login.microsoftonline.com/<tenant>/v2.0", "subject": "<the identity\'s principal id>", '
    '"audiences": ["api://AzureADTokenExchange"]}\''
)
IDENTITY_FIX = (
    "Enable the function app's managed identity (az functionapp identity assign -n <app> -g <group>), or choose "
    "ENTRA_CLIENT_CREDENTIAL=certificate. Locally, the values `python -m authorizer issuer` prints include "
    "IDENTITY_ENDPOINT and IDENTITY_HEADER."
)


def downstream_checks(settings: AuthSettings, environ: Mapping[str, str]) -> Iterator[Check]:
    """What would stop ``acquire_token`` and ``acquire_app_token``, each with its fix."""
    if not any(environ.get(name) for name in SAYS_DOWNSTREAM):
        return
    try:
        chosen = DownstreamSettings.from_environ(environ)
    except ConfigurationError as error:
        yield setting_failure(TITLE, error)
        return
    if missing_distributions("msal"):
        fix = "pip install 'entra-functions-authorizer[downstream]' (in requirements.txt: the [downstream] extra)"
        yield Check("FAIL", TITLE, "the downstream extra (MSAL) is not installed", fix)
        return
    if chosen.credential == SECRET and not settings.is_development:
        # Works, but a secret expires and leaks; the managed identity needs none.
        fix = "Use ENTRA_CLIENT_CREDENTIAL=managed_identity with a federated credential (docs/downstream-apis.md)."
        yield Check("warn", TITLE, "a client secret outside Development", fix)
    if chosen.credential == MANAGED_IDENTITY and not (
        os.environ.get("IDENTITY_ENDPOINT") and os.environ.get("IDENTITY_HEADER")
    ):
        yield Check(
            "FAIL", TITLE, "managed_identity, but the function app has no managed identity enabled", IDENTITY_FIX
        )
        return
    yield _token_endpoint(settings, chosen)


def _token_endpoint(settings: AuthSettings, chosen: DownstreamSettings) -> Check:
    from .._downstream.tokens import DownstreamTokens

    own_api = f"{settings.app_id_uri.rstrip('/')}/.default"
    started = time.monotonic()
    try:
        DownstreamTokens(settings, chosen).for_app([own_api])
    except DownstreamError as error:
        problem = str(error) if str(error) else error.description
        fix = FEDERATED_FIX if chosen.credential == MANAGED_IDENTITY else _fix_for(chosen.credential)
        return Check("FAIL", TITLE, f"{chosen.credential}: Entra gave no token for {own_api}: {problem}", fix)
    elapsed = (time.monotonic() - started) * 1000
    return Check("ok", TITLE, f"{chosen.credential}: Entra answered a token request for {own_api} in {elapsed:.0f} ms")


def _fix_for(credential: str) -> str:
    if credential == CERTIFICATE:
        return "Upload the certificate's public part to the API's registration (az ad app credential reset --cert ...)."
    return "Set ENTRA_CLIENT_SECRET to a current secret of the API's registration (a Key Vault reference is best)."
