"""Where a first sighting's time goes: each layer of the fresh path, as a ratio to a bare RSA verify.

The layers run interleaved, round after round on fresh tokens, so that each pays the same cold
caches a real request does after an RSA verify (which is why their costs here exceed the same
steps timed alone in a tight loop).
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from authorizer._functions import runtime as runtime
from authorizer._token.authenticator import Authenticator, Trace
from bench.harness import (
    REPEATS,
    RsaFloor,
    local_authorizer,
    mint,
    pin_to_one_core,
    protected_noop,
    pure_validator,
    request_for,
)

PER_ROUND = 1000


def measure() -> dict[str, Any]:
    core = pin_to_one_core()
    with local_authorizer() as issuer:
        list_orders = protected_noop()
        assert list_orders(request_for(mint(issuer, 1)[0])).status_code == 200
        state = runtime.current()
        authenticator = state.authenticator
        # The same authority and tenants, with the validated-token cache switched off.
        uncached = Authenticator(
            dataclasses.replace(state.settings, token_cache_entries=0),
            authenticator.authority,
            authenticator.tenants,
            time.time,
        )
        pure = pure_validator()

        def authenticate(with_cache: Authenticator) -> Callable[[str], object]:
            return lambda header: with_cache.authenticate(header, allow_io=True, trace=Trace())

        layers: dict[str, tuple[Callable[[Any], object], Callable[[str], Any]]] = {
            "validate": (pure, lambda token: token),
            "authenticate_uncached": (authenticate(uncached), lambda token: f"Bearer {token}"),
            "authenticate": (authenticate(authenticator), lambda token: f"Bearer {token}"),
            "decorator": (list_orders, request_for),
        }
        floor = RsaFloor(issuer, mint(issuer, PER_ROUND))
        samples: dict[str, list[float]] = {name: [] for name in layers}
        for _ in range(REPEATS):
            for name, (call, prepare) in layers.items():
                items = [prepare(token) for token in mint(issuer, PER_ROUND)]
                samples[name].append(floor.ratio(call, [items]).median)
    return {
        "core": core,
        "rsa_verify_us": floor.median_us(),
        **{f"{name}_ratio": round(statistics.median(values), 2) for name, values in samples.items()},
    }


if __name__ == "__main__":
    print(json.dumps(measure()))
