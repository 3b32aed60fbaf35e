"""What a fresh interpreter holds after importing the app: for checks of what waits until needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def modules_after_importing_the_app(environment: Mapping[str, str], prefixes: Iterable[str]) -> list[str]:
    """The modules named by ``prefixes`` (or under them) that importing function_app loaded."""
    script = (
        "import json, sys, function_app; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({tuple(prefixes)!r}))))"
    )
    completed = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**{k: v for k, v in os.environ.items() if k != "KEY_VAULT_URL"}, **environment, "PYTHONPATH": str(REPO)},
        timeout=60,
        check=True,
    )
    found: list[str] = json.loads(completed.stdout)
    return found
