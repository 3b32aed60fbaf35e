"""The pytest side's handle on tests/worker/harness.py: one run of the real worker in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
WORKER_PYTHON = REPO / ".venv313" / "bin" / "python"


def run_harness(
    requests: list[dict[str, Any]],
    app_settings: dict[str, str],
    folder: Path,
    *,
    python: Path = WORKER_PYTHON,
    app_directory: Path = REPO,
    host_directory: Path = REPO,
    sequential: bool = False,
) -> dict[str, Any]:
    """The harness's report on ``requests``, run by the real worker with ``app_settings`` as its environment.

    ``host_directory`` holds the harness (tests/worker); only it and ``app_directory`` (added as the
    host's launcher adds its script root) are importable: the worker's interpreter sees nothing else of ours.

    Raises:
        AssertionError: with the harness's stderr, when the harness itself crashed.
    """
    (folder / "cases.json").write_text(json.dumps(requests))
    # This environment minus any app settings of its own: the app reads only those given.
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ENTRA_", "KEY_VAULT_")) and name != "PYTHONPATH"
    }
    arguments = [str(folder / "cases.json"), str(folder / "results.json"), *(["--sequential"] if sequential else [])]
    completed = subprocess.run(  # noqa: S603 - the project's own interpreter and harness
        # -m from host_directory: the harness is importable from there, and the app from its script root.
        [str(python), "-m", "tests.worker.harness", *arguments],
        cwd=host_directory,
        env={**inherited, **app_settings, "AzureWebJobsScriptRoot": str(app_directory)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, f"the harness failed:\n{completed.stderr[-4000:]}"
    report: dict[str, Any] = json.loads((folder / "results.json").read_text())
    return report
