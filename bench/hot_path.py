"""Per-request cost through the decorator, as ratios to a bare RSA verify timed in the same run."""

from __future__ import annotations

import json
import random
from typing import Any

import jwt

from bench.harness import (
    REPEATS,
    local_authorizer,
    mint,
    per_call_seconds,
    pin_to_one_core,
    protected_noop,
    request_for,
    rsa_floor,
)
from tests.support.entra import CLIENT_ID, HOME_TENANT, v2_issuer

PER_ROUND = 1000
# A realistic mix: an SPA presents the same token for its whole lifetime (about an hour), so most
# requests repeat a token already seen; one in ten is a first sighting (a new user or a renewal).
MIX_FRESH_SHARE = 0.1
POPULAR_TOKENS = 200


def measure() -> dict[str, Any]:
    core = pin_to_one_core()
    with local_authorizer() as issuer:
        list_orders = protected_noop()
        # Request objects are built here, outside every timed region.
        fresh_rounds = [[request_for(token) for token in mint(issuer, PER_ROUND)] for _ in range(REPEATS)]
        assert list_orders(fresh_rounds[0][0]).status_code == 200
        fresh_rounds[0] = fresh_rounds[0][1:]
        floor = rsa_floor(issuer, mint(issuer, PER_ROUND))
        fresh = per_call_seconds(list_orders, fresh_rounds)

        repeat_request = request_for(mint(issuer, 1)[0])
        list_orders(repeat_request)
        repeat = per_call_seconds(list_orders, [[repeat_request] * PER_ROUND] * REPEATS)

        rng = random.Random(7)
        popular = [request_for(token) for token in mint(issuer, POPULAR_TOKENS)]
        for request in popular:
            list_orders(request)
        mix_rounds = []
        for _ in range(REPEATS):
            # Exactly one in ten is a first sighting, at random places in the round.
            newcomers = [request_for(token) for token in mint(issuer, int(PER_ROUND * MIX_FRESH_SHARE))]
            mix = [rng.choice(popular) for _ in range(PER_ROUND - len(newcomers))] + newcomers
            rng.shuffle(mix)
            mix_rounds.append(mix)
        mixed = per_call_seconds(list_orders, mix_rounds)

        key = issuer.signer.private_key.public_key()
        expected_issuer = v2_issuer(issuer.base_url, HOME_TENANT)
        pyjwt_tokens = [mint(issuer, PER_ROUND) for _ in range(REPEATS)]
        pyjwt = per_call_seconds(
            lambda token: jwt.decode(token, key, algorithms=["RS256"], audience=CLIENT_ID, issuer=expected_issuer),
            pyjwt_tokens,
        )
        fetches = {"metadata": issuer.count("metadata-v2"), "jwks": issuer.count("jwks")}
    return {
        "core": core,
        "rsa_verify_us": round(floor * 1e6, 1),
        "fresh_ratio": round(fresh / floor, 2),
        "repeat_ratio": round(repeat / floor, 3),
        "mix_ratio": round(mixed / floor, 3),
        "pyjwt_decode_ratio": round(pyjwt / floor, 2),
        "fetches": fetches,
    }


if __name__ == "__main__":
    print(json.dumps(measure()))
