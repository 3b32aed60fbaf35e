"""What `func azure functionapp publish` would upload: the app's own files, and nothing of development.

Core Tools zips every file under the app's root that `.funcignore` does not deny; without the file,
it would upload the virtual environments, node_modules and the local issuer's key (about 400 MB).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED_FILES = {"host.json", "function_app.py", "requirements.txt"}
SHIPPED_PACKAGES = ("authorizer/", "shared/")
# What make test, make demo and the editors leave in a working tree, besides the tracked files.
DEVELOPMENT_ARTEFACTS = [
    ".venv/bin/python",
    ".venv/lib/python3.11/site-packages/jwt/__init__.py",
    ".venv313/lib/python3.13/site-packages/azure_functions_runtime/__init__.py",
    ".stamps/venv",
    ".hypothesis/examples/0/1",
    ".mypy_cache/3.11/authorizer/decorator.data.json",
    ".pytest_cache/v/cache/nodeids",
    ".ruff_cache/0.8.0/123",
    ".local-issuer/signing-key.pem",
    ".vscode/settings.json",
    "__pycache__/function_app.cpython-311.pyc",
    "authorizer/__pycache__/decorator.cpython-311.pyc",
    "authorizer/devtools/__pycache__/demo.cpython-311.pyc",
    "shared/__pycache__/responses.cpython-313.pyc",
    "samples/node_modules/@azure/msal-browser/package.json",
    "local.settings.json",
]
# Core Tools leaves these out whatever .funcignore says.
ALWAYS_LEFT_OUT_FILES = {".funcignore", ".gitignore", "local.settings.json", "project.lock.json"}
ALWAYS_LEFT_OUT_DIRECTORIES = {".git", ".vscode"}


def core_tools_denies(patterns: list[str]) -> re.Pattern[str]:
    """.funcignore as Core Tools reads it (its GitIgnoreParser): each pattern anchored at the start
    of the path relative to the app's root and ending at a word boundary; ``*`` is one path segment,
    ``**`` anything. No pattern here is negated."""

    def regex(pattern: str) -> str:
        escaped = re.sub(r"[\-\[\]/{}()+?.\\^$|]", lambda match: "\\" + match.group(), pattern.lstrip("/"))
        return escaped.replace("**", "(.+)").replace("*", "([^/]+)")

    return re.compile("^((" + ")|(".join(regex(pattern) for pattern in patterns) + r"))\b", re.ASCII)


def funcignore_patterns() -> list[str]:
    lines = (REPO / ".funcignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    assert not any(pattern.startswith("!") for pattern in patterns), "the readers differ on negation"
    return patterns


def git(*arguments: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    executable = shutil.which("git")
    assert executable, "git comes with every clone"
    # git, on our own files or a scratch repository
    return subprocess.run([executable, *arguments], cwd=cwd, input=stdin, capture_output=True, text=True)  # noqa: S603


@pytest.fixture(scope="module")
def working_tree() -> list[str]:
    listing = git("ls-files", cwd=REPO)
    assert listing.returncode == 0, listing.stderr
    tree = sorted(set(listing.stdout.splitlines()) | set(DEVELOPMENT_ARTEFACTS))
    assert "host.json" in tree
    return tree


def expected_upload(tree: list[str]) -> set[str]:
    return {path for path in tree if path in SHIPPED_FILES or path.startswith(SHIPPED_PACKAGES)} - {
        path for path in tree if "__pycache__/" in path
    }


def test_core_tools_would_upload_the_app_and_nothing_of_development(working_tree: list[str]) -> None:
    denies = core_tools_denies(funcignore_patterns())
    uploaded = {
        path
        for path in working_tree
        if path.split("/")[0] not in ALWAYS_LEFT_OUT_DIRECTORIES
        and path.rsplit("/", 1)[-1] not in ALWAYS_LEFT_OUT_FILES
        and not denies.match(path)
    }
    assert uploaded == expected_upload(working_tree)
    assert {
        "authorizer/_functions/decorator.py",
        "authorizer/_remote/key_vault.py",
        "shared/responses.py",
        "function_app.py",
    } <= uploaded


def test_gitignore_syntax_reads_the_file_the_same_way(working_tree: list[str], tmp_path: Path) -> None:
    # azd (and git) read .funcignore as gitignore syntax, where a pattern without a slash matches
    # at any depth: the same upload must come out.
    assert git("init", "-q", cwd=tmp_path).returncode == 0
    shutil.copy(REPO / ".funcignore", tmp_path / ".funcignore")
    checked = git(
        "-c",
        "core.excludesFile=.funcignore",
        "check-ignore",
        "--no-index",
        "--stdin",
        cwd=tmp_path,
        stdin="\n".join(working_tree),
    )
    assert checked.returncode in (0, 1), checked.stderr
    ignored = set(checked.stdout.splitlines())
    assert {path for path in working_tree if path not in ignored} == expected_upload(working_tree)
