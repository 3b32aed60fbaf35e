"""The library's suite on each Python that Azure Functions runs: `nox -s library-3.12`, say.

`make test` runs the whole suite on 3.11 and these sessions for 3.12 and 3.13; CI adds 3.14. Tests
that drive an interpreter or a browser of their own (marked pinned_runtime) run once, in the main
suite: they would test the same worker and the same browser again.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True

PYTHONS = ["3.11", "3.12", "3.13", "3.14"]


@nox.session(python=PYTHONS)
def library(session: nox.Session) -> None:
    """Install the pinned test requirements and run every test not bound to a runtime of its own."""
    session.install("--disable-pip-version-check", "-r", "requirements-dev.txt")
    session.run("python", "-m", "pytest", "-m", "not pinned_runtime", *session.posargs)
