"""Process growth after 100,000 garbage tokens and 100,000 distinct valid tokens (target <= 20 MB).

Tokens are minted in worker processes and streamed through in chunks, so the tokens themselves
are not counted: what is measured is what the authorizer keeps. RSS is read from /proc after a
GC, once the first chunk has warmed the allocator.
"""

from __future__ import annotations

import gc
import json
import os
import random
import string
import time
from collections.abc import Iterator
from multiprocessing import Pool
from typing import Any

import azure.functions as func

import authorizer._functions.runtime
from authorizer import require_auth
from bench.harness import local_authorizer, request_for
from tests.support.issuer import LocalIssuer

TOTAL = 100_000
CHUNK = 1_000
_worker_issuer: LocalIssuer | None = None


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _init_worker(signer: Any, port: int) -> None:
    # Workers only sign: the issuer object supplies the key and the issuer URL, it never serves.
    global _worker_issuer
    _worker_issuer = LocalIssuer(keys=[signer])
    _worker_issuer.port = port


def _mint_chunk(size: int) -> list[str]:
    assert _worker_issuer is not None
    now = time.time()
    return [_worker_issuer.token(now) for _ in range(size)]


def valid_chunks(issuer: LocalIssuer) -> Iterator[list[str]]:
    with Pool(processes=2, initializer=_init_worker, initargs=(issuer.signer, issuer.port)) as pool:
        yield from pool.imap(_mint_chunk, [CHUNK] * (TOTAL // CHUNK))


def garbage_chunks(rng: random.Random) -> Iterator[list[str]]:
    alphabet = string.ascii_letters + string.digits + "-_"
    for _ in range(TOTAL // CHUNK):
        yield [".".join("".join(rng.choices(alphabet, k=length)) for length in (36, 700, 342)) for _ in range(CHUNK)]


def measure() -> dict[str, Any]:
    with local_authorizer() as issuer:
        answer = func.HttpResponse("ok")

        @require_auth()
        def me(req: func.HttpRequest) -> func.HttpResponse:
            return answer

        results: dict[str, Any] = {}
        for label, chunks in (("garbage", garbage_chunks(random.Random(3))), ("valid", valid_chunks(issuer))):
            baseline = None
            statuses: set[int] = set()
            for index, chunk in enumerate(chunks):
                for token in chunk:
                    statuses.add(me(request_for(token)).status_code)
                if index == 0:
                    gc.collect()
                    baseline = rss_bytes()
            gc.collect()
            assert baseline is not None
            results[f"{label}_growth_mb"] = round((rss_bytes() - baseline) / 2**20, 1)
            results[f"{label}_statuses"] = sorted(statuses)
        cache = authorizer._functions.runtime.current().authenticator.cache
        results["cache_entries"] = len(cache)
        results["cache_estimated_mb"] = round(cache.estimated_bytes / 2**20, 1)
    return results


if __name__ == "__main__":
    print(json.dumps(measure()))
