"""The pytest side's handle on tests/worker/harness.py: one run of the real worker in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
WORKER_PYTHON = REPO / ".venv313" / "bin" / "python"


def run_harness(requests: list[dict[str, Any]], app_settings: dict[str, str], folder: Path) -> dict[str, Any]:
    """The harness's report on ``requests``, run by the real worker with ``app_settings`` as its environment.

    Raises:
        AssertionError: with the harness's stderr, when the harness itself crashed.
    """
    (folder / "cases.json").write_text(json.dumps(requests))
    # This environment minus any app settings of its own: the app reads only those given.
    inherited = {name: value for name, value in os.environ.items() if not name.startswith(("ENTRA_", "KEY_VAULT_"))}
    completed = subprocess.run(  # noqa: S603 - the project's own interpreter and harness
        [str(WORKER_PYTHON), "-m", "tests.worker.harness", str(folder / "cases.json"), str(folder / "results.json")],
        cwd=REPO,
        env={**inherited, **app_settings, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, f"the harness failed:\n{completed.stderr[-4000:]}"
    report: dict[str, Any] = json.loads((folder / "results.json").read_text())
    return report
