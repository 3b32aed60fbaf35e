"""Import cost of function_app over azure.functions alone, in fresh interpreters (median of runs)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNS = 15
ENVIRONMENT = {
    **os.environ,
    "PYTHONPATH": str(REPO),
    "ENTRA_TENANT_ID": "11111111-1111-4111-8111-111111111111",
    "ENTRA_CLIENT_ID": "aaaaaaaa-0000-4000-8000-00000000a91e",
    "PYTHONDONTWRITEBYTECODE": "",
}


def import_seconds(module: str) -> float:
    """Wall time of importing ``module`` inside a fresh interpreter, measured by that interpreter."""
    script = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    completed = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, env=ENVIRONMENT, check=True
    )
    return float(completed.stdout)


def measure() -> dict[str, float]:
    # Warm the bytecode caches once so that both sides pay the same.
    import_seconds("function_app")
    baseline, app = [], []
    for _ in range(RUNS):
        baseline.append(import_seconds("azure.functions"))
        app.append(import_seconds("function_app"))
    base_ms, app_ms = statistics.median(baseline) * 1000, statistics.median(app) * 1000
    return {
        "azure_functions_ms": round(base_ms, 1),
        "function_app_ms": round(app_ms, 1),
        "extra_ms": round(app_ms - base_ms, 1),
    }


if __name__ == "__main__":
    started = time.perf_counter()
    print(json.dumps(measure()))
