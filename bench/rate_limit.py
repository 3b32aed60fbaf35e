"""What a rate limit adds to each admitted call: one check in memory, and in a Redis on loopback."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from authorizer._policy.rate_counter import CallerRateLimiter, caller_key
from authorizer._policy.rate_limits import RateLimitSettings, parse_limits
from authorizer._token.principal import Principal
from bench.harness import REPEATS, RsaFloor, figures, local_authorizer, mint, pin_to_one_core
from tests.support.redis_server import LocalRedis

PER_ROUND = 1000
# Never reached: every check is a count and the RateLimit fields, never a refusal.
LIMIT = "1000000/day"


def limiter(url: str) -> CallerRateLimiter:
    settings = RateLimitSettings.from_environ({"RATE_LIMIT_STORAGE_URL": url, "RATE_LIMIT_STORE_TIMEOUT_MS": "1000"})
    return CallerRateLimiter(settings, time.monotonic)


def measure() -> dict[str, Any]:
    core = pin_to_one_core()
    items = parse_limits(LIMIT, "bench")
    with local_authorizer() as issuer, tempfile.TemporaryDirectory() as folder:
        redis = LocalRedis(Path(folder)).start()
        try:
            floor = RsaFloor(issuer, mint(issuer, PER_ROUND))
            caller = Principal.from_claims(issuer.claims(time.time()))
            key = caller_key("bench-api", "list_orders", caller)
            stores = {"memory": limiter("memory://"), "redis": limiter(redis.url)}
            results = {}
            for name, store in stores.items():
                assert store.consume(items, key).admitted
                rounds = [[store] * PER_ROUND] * REPEATS
                results[name] = figures(floor.ratio(lambda each: each.consume(items, key), rounds), 3)
        finally:
            redis.stop()
    return {"core": core, "rsa_verify_us": floor.median_us(), **results}


if __name__ == "__main__":
    print(json.dumps(measure()))
