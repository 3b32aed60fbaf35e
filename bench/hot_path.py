"""Per-request cost through the decorator, as ratios to a bare RSA verify timed in the same run."""

from __future__ import annotations

import json
import logging
import random
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
    repeat_rounds,
    request_for,
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
        floor = RsaFloor(issuer, mint(issuer, PER_ROUND))

        first_rounds: list[list[Any]] = fresh_rounds(issuer, PER_ROUND)
        assert list_orders(first_rounds[0][0]).status_code == 200
        first_rounds[0] = first_rounds[0][1:]
        fresh = floor.ratio(list_orders, first_rounds)

        repeats = repeat_rounds(list_orders, issuer, PER_ROUND)
        repeat = floor.ratio(list_orders, repeats)

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
        mixed = floor.ratio(list_orders, mix_rounds)

        key = issuer.signer.private_key.public_key()
        expected_issuer = v2_issuer(issuer.base_url, HOME_TENANT)
        pyjwt = floor.ratio(
            lambda token: jwt.decode(token, key, algorithms=["RS256"], audience=CLIENT_ID, issuer=expected_issuer),
            [mint(issuer, PER_ROUND) for _ in range(REPEATS)],
        )
        fetches = {"metadata": issuer.count("metadata-v2"), "jwks": issuer.count("jwks")}

        # The audit trail of admitted calls turned on (one line): a record for each, formatted.
        logging.getLogger("authorizer").setLevel(logging.DEBUG)
        fresh_audited = floor.ratio(list_orders, fresh_rounds(issuer, PER_ROUND))
        repeat_audited = floor.ratio(list_orders, repeats)
    return {
        "core": core,
        "rsa_verify_us": floor.median_us(),
        "fresh": figures(fresh, 2),
        "repeat": figures(repeat, 3),
        "mix": figures(mixed, 2),
        "fresh_audited": figures(fresh_audited, 2),
        "repeat_audited": figures(repeat_audited, 3),
        "pyjwt_decode": figures(pyjwt, 2),
        "fetches": fetches,
    }


if __name__ == "__main__":
    print(json.dumps(measure()))
