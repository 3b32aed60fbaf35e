"""Import cost of function_app over azure.functions alone, in fresh interpreters (median of runs)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RUNS = 21
ENVIRONMENT = {
    **os.environ,
    "PYTHONPATH": str(REPO),
    "ENTRA_TENANT_ID": "11111111-1111-4111-8111-111111111111",
    "ENTRA_CLIENT_ID": "aaaaaaaa-0000-4000-8000-00000000a91e",
    "PYTHONDONTWRITEBYTECODE": "",
}


def import_seconds() -> tuple[float, float]:
    """In one fresh interpreter: the time to import azure.functions, then function_app on top.

    The second is the cost function_app adds, measured in the same process rather than as the
    difference of two processes' totals, whose noise (tens of ms on this VM) would swamp it.
    """
    script = (
        "import time; t0 = time.perf_counter(); import azure.functions; t1 = time.perf_counter(); "
        "import function_app; t2 = time.perf_counter(); print(t1 - t0, t2 - t1)"
    )
    completed = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, env=ENVIRONMENT, check=True
    )
    base, extra = completed.stdout.split()
    return float(base), float(extra)


def measure() -> dict[str, Any]:
    # Warm the bytecode caches once so that every run pays the same.
    import_seconds()
    runs = [import_seconds() for _ in range(RUNS)]
    extras = [extra * 1000 for _, extra in runs]
    return {
        "azure_functions_ms": round(statistics.median(base for base, _ in runs) * 1000, 1),
        "extra_ms": round(statistics.median(extras), 1),
        "extra_range_ms": [round(min(extras), 1), round(max(extras), 1)],
    }


if __name__ == "__main__":
    print(json.dumps(measure()))
