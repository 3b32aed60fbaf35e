"""A repeat downstream token (the cache answers): ``principal.acquire_token`` as a ratio to an RSA verify.

Beside it, for the record, MSAL's own cache lookup (``acquire_token_silent``) that the memo in front of
it spares a repeat.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import authorizer
import authorizer._functions.runtime
from authorizer._token.authenticator import Trace
from authorizer._token.delegation import begin, end
from authorizer._token.principal import Principal
from authorizer.devtools._issuer import HOME_TENANT, LocalEntraIssuer
from bench.harness import REPEATS, RsaFloor, figures, local_authorizer, mint, pin_to_one_core

PER_ROUND = 2000
USER_READ = "https://graph.microsoft.com/User.Read"
OBO = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def measure() -> dict[str, Any]:
    core = pin_to_one_core()
    with local_authorizer() as floor_issuer, tempfile.TemporaryDirectory() as folder:
        floor = RsaFloor(floor_issuer, mint(floor_issuer, PER_ROUND))
        entra = LocalEntraIssuer(Path(folder)).start()
        try:
            state = entra.started_state()
            os.environ.update({"IDENTITY_ENDPOINT": state.identity_endpoint, "IDENTITY_HEADER": state.identity_header})
            authorizer.configure(environ={**state.settings(), "AZURE_FUNCTIONS_ENVIRONMENT": "Development"})
            token = entra.user_token("Orders.Read")
            runtime = authorizer._functions.runtime.current()
            principal: Principal = runtime.authenticator.authenticate(f"Bearer {token}", allow_io=True, trace=Trace())
            serving = begin(principal, f"Bearer {token}")
            try:
                first = principal.acquire_token([USER_READ])
                rounds = [[principal] * PER_ROUND] * REPEATS
                repeat = floor.ratio(lambda caller: caller.acquire_token([USER_READ]), rounds)
                tokens = runtime.downstream.tokens()
                app = tokens._app(HOME_TENANT)
                account = app.get_accounts()[0]
                silent = floor.ratio(lambda _: app.acquire_token_silent([USER_READ], account=account), rounds)
            finally:
                end(serving)
            # Every repeat was answered here: one exchange reached the issuer, for the first call.
            exchanges = entra._started().token_requests[OBO]
            assert first and exchanges == 1, exchanges
        finally:
            entra.stop()
            authorizer.configure(environ=None)
    return {
        "core": core,
        "rsa_verify_us": floor.median_us(),
        "repeat": figures(repeat, 3),
        "msal_silent": figures(silent, 3),
        "token_requests": exchanges,
    }


if __name__ == "__main__":
    print(json.dumps(measure()))
