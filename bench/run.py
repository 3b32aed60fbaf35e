"""`make bench`: every bench in its own process; one table and one JSON line.

Each time figure is a ratio to a bare RSA-2048 verify timed in the same process, round by round, so
that the speed of the machine (and its drift) cancels out; those benches run once on each core.
Nothing here is a test: targets are reported, not asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# Timed against the floor: run once on each core, since the cores of a VM need not be alike.
PER_CORE = ["hot_path", "telemetry", "breakdown", "token_size", "rate_limit", "downstream"]
ONCE = ["concurrency", "processes", "import_cost", "memory"]


# The venv of the real 3.13 worker (make bootstrap): the newest Python that Functions runs.
PYTHON313 = REPO / ".venv313" / "bin" / "python"


def run(name: str, core: int | None = None, python: str = sys.executable, **settings: str) -> dict[str, Any]:
    environ = {**os.environ, **settings} if core is None else {**os.environ, **settings, "BENCH_CORE": str(core)}
    completed = subprocess.run(  # noqa: S603 - our own interpreter and module
        [python, "-m", f"bench.{name}"], capture_output=True, text=True, cwd=REPO, env=environ, check=True
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def across_cores(per_core: list[dict[str, Any]], pick: Callable[[dict[str, Any]], float]) -> tuple[str, str]:
    """Each core's figure, and the worse of them as the one that counts."""
    values = [pick(result) for result in per_core]
    return " / ".join(f"{value}" for value in values), f"{max(values)}x"


def table(results: dict[str, Any]) -> str:
    hot: list[dict[str, Any]] = results["hot_path"]
    hot313: list[dict[str, Any]] = results["hot_path_313"]
    layers: list[dict[str, Any]] = results["breakdown"]
    threads, processes = results["concurrency"], results["processes"]
    imports, memory = results["import_cost"], results["memory"]
    cores = " / ".join(str(result["core"]) for result in hot)

    Row = tuple[str, str, str, str]

    def hot_row(label: str, figure: str, target: str = "", runs: list[dict[str, Any]] = hot) -> Row:
        return (label, *across_cores(runs, lambda result: float(result[figure]["ratio"])), target)

    def layer_row(label: str, figure: str) -> Row:
        return (label, *across_cores(layers, lambda result: float(result[figure])), "")

    def limit_row(label: str, figure: str) -> Row:
        return (label, *across_cores(results["rate_limit"], lambda result: float(result[figure]["ratio"])), "")

    def worker_row(label: str, figure: str, target: str = "") -> Row:
        return (label, *across_cores(results["worker"], lambda result: float(result[figure]["ratio"])), target)

    def worker_share(label: str, figure: str) -> Row:
        figures = [result[figure] for result in results["worker"]]
        return (label, " / ".join(f"+{item['overhead_percent']} %" for item in figures), "", "")

    def size_row(label: str) -> Row:
        sized = [result[label] for result in results["token_size"]]
        worst = max(sized, key=lambda item: float(item["fresh"]["ratio"]))
        beyond = " / ".join(f"{item['beyond_verify_us']}" for item in sized)
        return (
            f"  {label} ({worst['token_bytes']} B): beyond the verify, us; PyJWT {worst['pyjwt_us']} us",
            beyond,
            f"{worst['fresh']['ratio']}x",
            "",
        )

    def sdk_row(label: str, figure: str) -> Row:
        return (label, *across_cores(results["telemetry"], lambda result: float(result[figure]["ratio"])), "")

    def sdk_part(label: str, signals: str) -> Row:
        part = results[f"telemetry_{signals}"]
        return (label, f"{part['fresh']['ratio']} / {part['repeat']['ratio']}", "", "")

    def thread_row(label: str, reference: dict[str, Any]) -> Row:
        return (label, f"{reference['range'][0]}-{reference['range'][1]}", f"{reference['ratio']}x", "")

    rows = [
        (f"timed on each core ({cores}); ratio: the worse", "per core", "", ""),
        (
            "bare RSA-2048 verify (the floor)",
            " / ".join(f"{result['rsa_verify_us']}" for result in hot) + " us",
            "1.00x",
            "",
        ),
        hot_row("(a) fresh token through the decorator", "fresh", "<= 2.0x"),
        hot_row("(b) repeat token through the decorator", "repeat", "<= 0.15x"),
        hot_row("(c) mix: 90 % repeats, 10 % first sightings", "mix"),
        ("  with the audit trail of admitted calls on (authorizer at DEBUG):", "", "", ""),
        hot_row("  (a) fresh", "fresh_audited"),
        hot_row("  (b) repeat", "repeat_audited"),
        hot_row("PyJWT jwt.decode, key preloaded (reference)", "pyjwt_decode"),
        ("with an OpenTelemetry SDK (a metric reader; spans batched to a dropping exporter):", "", "", ""),
        sdk_row("  (a) fresh", "fresh"),
        sdk_row("  (b) repeat", "repeat"),
        sdk_part("  (a) / (b), metrics only (one core)", "metrics"),
        sdk_part("  (a) / (b), spans only (one core)", "traces"),
        ("a first sighting as the token grows (ratio: to a verify of that size):", "", "", ""),
        size_row("plain"),
        size_row("50 groups"),
        size_row("200 groups"),
        ("on Python 3.13 (the worker's newest), each to its own floor:", "", "", ""),
        hot_row("  (a) fresh", "fresh", runs=hot313),
        hot_row("  (b) repeat", "repeat", runs=hot313),
        ("a rate limit's check, added to each admitted call:", "", "", ""),
        limit_row("  memory:// (per instance)", "memory"),
        limit_row("  redis:// on loopback (shared)", "redis"),
        ("a downstream token, on behalf of the caller:", "", "", ""),
        (
            "  repeat acquire_token (the cache answers)",
            *across_cores(results["downstream"], lambda result: float(result["repeat"]["ratio"])),
            "<= 0.5x",
        ),
        (
            "  MSAL's own cache lookup (reference)",
            *across_cores(results["downstream"], lambda result: float(result["msal_silent"]["ratio"])),
            "",
        ),
        ("through the real 3.13 worker, to a bare verify timed there:", "", "", ""),
        worker_row("  sync, fresh token", "sync_fresh", "<= 2.0x"),
        worker_row("  sync, repeat token", "sync_repeat", "<= 0.25x"),
        worker_row("  async, fresh token", "async_fresh", "<= 2.0x"),
        worker_row("  async, repeat token", "async_repeat", "<= 0.25x"),
        (
            "  the bare verify there (us)",
            " / ".join(f"{result['sync_fresh']['verify_us']}" for result in results["worker"]),
            "",
            "",
        ),
        worker_share("  sync, repeat: over the anonymous function", "sync_repeat"),
        worker_share("  sync, fresh: over the anonymous function", "sync_fresh"),
        ("where (a) goes, layer by layer, interleaved:", "", "", ""),
        layer_row("  parse, verify, claims, issuer: validate()", "validate_ratio"),
        layer_row("  + header, key lookup, principal, tenant", "authenticate_uncached_ratio"),
        layer_row("  + token cache (SHA-256 digest, insert)", "authenticate_ratio"),
        layer_row("  + decorator (an admitted call builds no record at INFO)", "decorator_ratio"),
        (
            "8 threads / 1 thread, fresh tokens",
            f"{threads['cores']} cores, {threads['range'][0]}-{threads['range'][1]}",
            f"{threads['ratio']}x",
            ">= 1.0x",
        ),
        thread_row("  the same for validate() alone (reference)", threads["validate_only"]),
        thread_row("  the same for a bare RSA verify (next to no Python)", threads["bare_verify"]),
        (
            f"{processes['processes']} worker processes / 1 process, fresh tokens",
            f"{processes['range'][0]}-{processes['range'][1]}",
            f"{processes['ratio']}x",
            "",
        ),
        ("import function_app over azure.functions", f"{imports['extra_ms']} ms", "", "<= 60 ms"),
        ("100,000 garbage tokens: process growth", f"{memory['garbage_growth_mb']} MB", "", "<= 20 MB"),
        ("100,000 valid tokens: process growth", f"{memory['valid_growth_mb']} MB", "", "<= 20 MB"),
        (
            "fetches (hot path on each core / 8 threads)",
            " / ".join(f"{result['fetches']['metadata']}+{result['fetches']['jwks']}" for result in hot)
            + f" / {threads['fetches']['metadata']}+{threads['fetches']['jwks']}",
            "",
            "1 metadata + 1 JWKS",
        ),
    ]
    width = max(len(row[0]) for row in rows)
    lines = [f"{'measure':<{width}}  {'value':>14}  {'ratio':>8}  target", "-" * (width + 40)]
    lines += [f"{label:<{width}}  {value:>14}  {ratio:>8}  {target}" for label, value, ratio, target in rows]
    return "\n".join(lines)


def main() -> None:
    cores = sorted(os.sched_getaffinity(0))
    results: dict[str, Any] = {name: [run(name, core) for core in cores] for name in PER_CORE}
    results["hot_path_313"] = [run("hot_path", core, str(PYTHON313)) for core in cores]
    results["worker"] = [run("worker", core, str(PYTHON313)) for core in cores]
    # The SDK's cost split by signal: OpenTelemetry sets each provider once per process.
    for signals in ("metrics", "traces"):
        results[f"telemetry_{signals}"] = run("telemetry", cores[-1], BENCH_SDK_SIGNALS=signals)
    results |= {name: run(name) for name in ONCE}
    print(table(results))
    print(json.dumps(results, separators=(",", ":")))


if __name__ == "__main__":
    main()
