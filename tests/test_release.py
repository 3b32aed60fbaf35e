"""The release machinery: the workflow runs what `make test` runs, and publishes without a token."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "release.yml"


def make_prerequisites(target: str) -> set[str]:
    """The targets ``target`` depends on, read from the Makefile, recursively."""
    rules = dict(re.findall(r"^([a-z0-9-]+):([^=\n]*)$", (REPO / "Makefile").read_text(), re.MULTILINE))
    found, pending = set(), [target]
    while pending:
        name = pending.pop()
        if name in found or name not in rules:
            continue
        found.add(name)
        pending += rules[name].split()
    return found


def workflow_commands() -> list[str]:
    """Each step's command, with continuation lines joined."""
    text = WORKFLOW.read_text()
    commands = []
    for match in re.finditer(r"^(\s*(?:- )?)run: (\||>-)?(.*)$", text, re.MULTILINE):
        indent, style, first = match.groups()
        if not style:
            commands.append(first.strip())
            continue
        body = []
        for line in text[match.end() :].splitlines()[1:]:
            # The block ends at the first line no deeper than the run key itself.
            if line.strip() and len(line) - len(line.lstrip()) <= len(indent):
                break
            body.append(line.strip())
        commands += [" ".join(body)] if style == ">-" else [line for line in body if line]
    return commands


def test_every_workflow_step_is_a_command_make_test_runs() -> None:
    in_make_test = make_prerequisites("test")
    sessions = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["classifiers"]
    pythons = {
        item.rsplit(" :: ", 1)[1] for item in sessions if item.startswith("Programming Language :: Python :: 3.")
    }
    commands = workflow_commands()
    assert commands
    for command in commands:
        if command.startswith("make "):
            # Variables (PYTHON313=$(command -v python3.13)) are the machine's; the rest are targets.
            targets = re.sub(r"\S+=(\$\([^)]*\)|\S+)", "", command).split()[1:]
            assert set(targets) <= in_make_test, command
        elif command.startswith(".venv/bin/nox -s library-"):
            # The session make test runs for 3.12 and 3.13 (make versions), for a Python it cannot have here.
            assert command.removeprefix(".venv/bin/nox -s library-") in pythons, command
        else:
            # The release's own guard: the tag names the version built.
            assert command.startswith('test -f "dist/entra_functions_authorizer-${GITHUB_REF_NAME#v}'), command
    assert {"package", "versions", "pytest", "lint", "typecheck"} <= in_make_test


def test_the_suite_runs_on_every_python_the_package_declares() -> None:
    noxfile = (REPO / "noxfile.py").read_text()
    declared = re.search(r"PYTHONS = \[(.*)\]", noxfile)
    assert declared is not None
    sessions = set(re.findall(r'"(3\.\d+)"', declared.group(1)))
    classifiers = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["classifiers"]
    assert sessions == {item.rsplit(" :: ", 1)[1] for item in classifiers if re.search(r":: 3\.\d+$", item)}
    assert "3.14" in sessions
    # No cap: a library must not refuse an interpreter it has not seen fail.
    assert tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"] == ">=3.11"


def test_publishing_is_trusted_publishing_on_a_version_tag_after_the_tests() -> None:
    text = WORKFLOW.read_text()
    publish = text[text.index("\n  publish:") :]
    assert "if: startsWith(github.ref, 'refs/tags/v')" in publish
    assert re.search(r"needs: \[test, library-3-14, build\]", publish)
    assert "id-token: write" in publish
    assert "pypa/gh-action-pypi-publish@release/v1" in publish
    # No token or password anywhere: PyPI trusts this workflow, not a secret.
    assert "secrets." not in text and "password" not in text
