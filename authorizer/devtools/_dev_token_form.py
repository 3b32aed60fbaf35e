"""The token endpoint's form for a dev token: what `python -m authorizer token` and the entra fixture send.

Only what is named goes in; the issuer fills in nothing behind the caller's back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from .._policy.requirements import AUTH_CONTEXT
from ._entra_shape import ServedApi


def dev_token_form(
    api: ServedApi,
    *,
    client_id: str,
    version: str,
    scopes: Sequence[str] = (),
    user: str = "ada",
    roles: Sequence[str] = (),
    app_only: bool = False,
    app_roles: Sequence[str] = (),
    groups: Sequence[str] = (),
    tenant: str | None = None,
    acrs: Sequence[str] = (),
) -> dict[str, str]:
    """A password grant for ``user`` with ``scopes`` and exactly ``roles``, or client credentials with ``app_roles``.

    ``tenant`` is the token's tenant (default: the user's own, else the API's); the token endpoint is
    addressed in that tenant (``form["dev_tenant"]`` or ``api.tenant``).

    Raises:
        ValueError: an authentication context that is not c1 to c99.
    """
    for value in acrs:
        if not AUTH_CONTEXT.fullmatch(value):
            raise ValueError(f"{value!r}: an authentication context id is c1 to c99")
    form = {
        "client_id": client_id,
        "token_version": version,
        # The API the token is for, and its tenant: the issuer serves any app's API.
        "dev_api": api.client_id,
        "dev_home_tenant": api.tenant,
    }
    if tenant:
        form["dev_tenant"] = tenant
    if groups:
        form["dev_groups"] = ",".join(groups)
    if app_only:
        form |= {"grant_type": "client_credentials", "scope": api.scope_prefix + ".default"}
        form["dev_app_roles"] = ",".join(app_roles)
    else:
        form |= {"grant_type": "password", "username": user, "scope": " ".join(api.scope_prefix + s for s in scopes)}
        # Exactly the roles named: a dev user's own roles (ada's Orders.Writer) come only when asked for.
        form["dev_roles"] = ",".join(roles)
    if acrs:
        form["claims"] = json.dumps({"access_token": {"acrs": {"essential": True, "values": list(acrs)}}})
    return form
