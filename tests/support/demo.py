"""`make demo` as a test runs it: the demo module started, read until it says ready, stopped by its own handle."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass
class DemoRun:
    """What the demo printed up to its ready line, and, once stopped, how it ended."""

    printed: list[str] = field(default_factory=list)
    returncode: int | None = None
    errors: str = ""


@contextmanager
def running_demo(environment: dict[str, str]) -> Iterator[DemoRun]:
    demo = subprocess.Popen(  # noqa: S603 - our own module, as `make demo` runs it
        [sys.executable, "-m", "authorizer.devtools._demo"],
        cwd=REPO,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run = DemoRun()
    try:
        assert demo.stdout is not None
        for line in demo.stdout:
            run.printed.append(line)
            if line.startswith("ready"):
                break
        yield run
    finally:
        demo.send_signal(signal.SIGTERM)
        _, run.errors = demo.communicate(timeout=30)
        run.returncode = demo.returncode
