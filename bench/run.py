"""`make bench`: every bench in its own process; one table and one JSON line.

Each time figure is a ratio to a bare RSA-2048 verify timed in the same process, so that the
speed of the machine cancels out. Nothing here is a test: targets are reported, not asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCHES = ["hot_path", "breakdown", "concurrency", "import_cost", "memory"]


def run(name: str) -> dict[str, Any]:
    completed = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", f"bench.{name}"], capture_output=True, text=True, cwd=REPO, check=True
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def table(results: dict[str, dict[str, Any]]) -> str:
    hot, layers, threads = results["hot_path"], results["breakdown"], results["concurrency"]
    imports, memory = results["import_cost"], results["memory"]
    rows = [
        ("bare RSA-2048 verify (the floor)", f"{hot['rsa_verify_us']} us", "1.00x", ""),
        ("(a) fresh token through the decorator", "", f"{hot['fresh_ratio']}x", "<= 2.0x"),
        ("(b) repeat token through the decorator", "", f"{hot['repeat_ratio']}x", "<= 0.15x"),
        ("(c) mix: 90 % repeats, 10 % first sightings", "", f"{hot['mix_ratio']}x", ""),
        ("PyJWT jwt.decode, key preloaded (reference)", "", f"{hot['pyjwt_decode_ratio']}x", ""),
        ("where (a) goes, layer by layer, interleaved:", "", "", ""),
        ("  parse, verify, claims, issuer: validate()", "", f"{layers['validate_ratio']}x", ""),
        ("  + header, key lookup, principal, tenant", "", f"{layers['authenticate_uncached_ratio']}x", ""),
        ("  + token cache (SHA-256 digest, insert)", "", f"{layers['authenticate_ratio']}x", ""),
        ("  + decorator", "", f"{layers['decorator_ratio']}x", ""),
        (
            "8 threads / 1 thread, fresh tokens",
            f"{threads['cores']} cores, {threads['range'][0]}-{threads['range'][1]}",
            f"{threads['eight_over_one']}x",
            ">= 1.0x",
        ),
        (
            "  the same for validate() alone (reference)",
            f"{threads['validate_only']['range'][0]}-{threads['validate_only']['range'][1]}",
            f"{threads['validate_only']['eight_over_one']}x",
            "",
        ),
        ("import function_app over azure.functions", f"{imports['extra_ms']} ms", "", "<= 60 ms"),
        ("100,000 garbage tokens: process growth", f"{memory['garbage_growth_mb']} MB", "", "<= 20 MB"),
        ("100,000 valid tokens: process growth", f"{memory['valid_growth_mb']} MB", "", "<= 20 MB"),
        (
            "fetches (hot path / 8 threads)",
            f"{hot['fetches']['metadata']}+{hot['fetches']['jwks']} / "
            f"{threads['fetches']['metadata']}+{threads['fetches']['jwks']}",
            "",
            "1 metadata + 1 JWKS",
        ),
    ]
    width = max(len(row[0]) for row in rows)
    lines = [f"{'measure':<{width}}  {'value':>14}  {'ratio':>8}  target", "-" * (width + 40)]
    lines += [f"{label:<{width}}  {value:>14}  {ratio:>8}  {target}" for label, value, ratio, target in rows]
    return "\n".join(lines)


def main() -> None:
    results = {name: run(name) for name in BENCHES}
    print(table(results))
    print(json.dumps(results, separators=(",", ":")))


if __name__ == "__main__":
    main()
