"""Build the sdist and the wheel as the release does, then install the wheel in a fresh venv and use it.

`make package` runs this (and `make test` runs `make package`); the release workflow runs the same
command and publishes what it leaves in dist/. The wheel is built from the sdist (python -m build's
default), so a file the sdist forgets fails here, not on a user's machine.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DIST = REPO / "dist"
# What an installed wheel must do without this checkout on sys.path.
SMOKE = """
import importlib.metadata, json, authorizer
metadata = importlib.metadata.metadata("entra-functions-authorizer")
missing = [name for name in authorizer.__all__ if not hasattr(authorizer, name)]
assert not missing, missing
assert "site-packages" in authorizer.__file__, authorizer.__file__
assert metadata["License-Expression"] == "MIT", metadata["License-Expression"]
assert metadata["Version"] == authorizer.__version__
print(json.dumps({"version": authorizer.__version__, "names": len(authorizer.__all__)}))
"""


def run(*command: str | Path, cwd: Path = REPO) -> str:
    completed = subprocess.run(  # noqa: S603 - our own interpreters and pip
        [str(part) for part in command], cwd=cwd, check=True, capture_output=True, text=True, timeout=600
    )
    return completed.stdout


def main() -> int:
    shutil.rmtree(DIST, ignore_errors=True)
    run(sys.executable, "-m", "build", "--outdir", DIST, REPO)
    [sdist] = DIST.glob("entra_functions_authorizer-*.tar.gz")
    [wheel] = DIST.glob("entra_functions_authorizer-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        licenses = [name for name in archive.namelist() if name.endswith(".dist-info/licenses/LICENSE")]
    if not licenses:
        print(f"{wheel.name} carries no LICENSE")
        return 1
    with tempfile.TemporaryDirectory() as folder:
        venv = Path(folder) / "venv"
        run(sys.executable, "-m", "venv", venv)
        python = venv / "bin" / "python"
        run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel)
        # From a folder that is not this checkout, so that only the installed package can be imported.
        found = run(python, "-c", SMOKE, cwd=Path(folder)).strip()
        run(python, "-m", "authorizer", "--help", cwd=Path(folder))
    print(f"built {sdist.name} and {wheel.name}; installed in a fresh venv: {found}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
