"""Who is a B2B guest: a user signed in to the token's tenant from an account of somewhere else.

A guest carries its host tenant's tid, so a tenant allow-list alone would let every guest of an
allowed tenant through; the policy refuses guests unless a function or the app admits them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .._settings.app_settings import VERSIONS
from .validation import TokenFacts, expected_issuer

MEMBER = 0


def is_guest(
    claims: Mapping[str, Any], facts: TokenFacts, issuer_template: Callable[[str], str], *, external_id: bool = False
) -> bool:
    """Decide from verified claims of a delegated token.

    ``acct`` (an optional claim: 0 member, 1 guest) decides when present, and anything but 0 counts
    as a guest. Without it, in a workforce tenant, an ``idp`` that is not an issuer of the token's own
    tenant (in either version's spelling, from discovery) marks a guest: another tenant, or a personal
    account. In an External ID tenant (``external_id``) customers sign in with Google, Facebook or an
    email, so ``idp`` names their sign-in, not a guest: only ``acct`` marks one there.
    ``issuer_template`` is asked for the other version's template only when it is needed.
    """
    account = claims.get("acct")
    if account is not None:
        return not (type(account) is int and account == MEMBER)
    if external_id:
        return False
    identity_provider = claims.get("idp")
    if identity_provider is None or identity_provider == claims.get("iss"):
        return False
    own = {expected_issuer(issuer_template(version), facts.tenant_id) for version in VERSIONS}
    return identity_provider not in own
