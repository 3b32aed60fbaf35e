"""What a first sighting costs as tokens grow: about 1 KB, and with 50 and 200 group ids (3.5 and 11 KB).

The verify itself grows with the token (SHA-256 of the signing input), so each size has its own floor:
bare verifies of tokens of that size, interleaved round by round. What matters is the cost beyond the
verify (our parse, JSON, checks and bookkeeping), and how it grows: it should grow far less than the
token does. PyJWT's decode of the same tokens is the reference (measured 77 / 191 / 534-654 us in 2.14+).
"""

from __future__ import annotations

import json
import statistics
import uuid
from typing import Any

import jwt

from bench.harness import (
    REPEATS,
    RsaFloor,
    figures,
    fresh_rounds,
    local_authorizer,
    mint,
    pin_to_one_core,
    protected_noop,
    request_for,
)
from tests.support.entra import CLIENT_ID, HOME_TENANT, v2_issuer

PER_ROUND = 300
# Group ids as Entra lists them: object ids (GUIDs), up to 200 in a JWT before the overage claim.
SIZES = {"plain": 0, "50 groups": 50, "200 groups": 200}


def measure() -> dict[str, Any]:
    core = pin_to_one_core()
    results: dict[str, Any] = {"core": core}
    with local_authorizer() as issuer:
        list_orders = protected_noop()
        key = issuer.signer.private_key.public_key()
        expected_issuer = v2_issuer(issuer.base_url, HOME_TENANT)

        def claims(groups: int) -> dict[str, Any]:
            return {"groups": [str(uuid.uuid4()) for _ in range(groups)]} if groups else {}

        def tokens(groups: int) -> list[str]:
            return mint(issuer, PER_ROUND, **claims(groups))

        assert list_orders(request_for(tokens(0)[0])).status_code == 200
        for label, groups in SIZES.items():
            sample = tokens(groups)
            floor = RsaFloor(issuer, sample)
            fresh = floor.ratio(list_orders, fresh_rounds(issuer, PER_ROUND, **claims(groups)))
            floor_us = statistics.median(floor.samples) * 1e6
            pyjwt = floor.ratio(
                lambda token: jwt.decode(token, key, algorithms=["RS256"], audience=CLIENT_ID, issuer=expected_issuer),
                [tokens(groups) for _ in range(REPEATS)],
            )
            results[label] = {
                "token_bytes": round(statistics.mean(len(token) for token in sample)),
                "verify_us": round(floor_us, 1),
                "fresh": figures(fresh, 2),
                # The cost beyond the verify of a token of this size, in microseconds.
                "beyond_verify_us": round((fresh.median - 1) * floor_us, 1),
                "pyjwt_us": round(pyjwt.median * floor_us, 1),
            }
    return results


if __name__ == "__main__":
    print(json.dumps(measure()))
