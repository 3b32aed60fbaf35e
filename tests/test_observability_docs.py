"""The queries and the workbook operators use name only instruments, spans and attributes the code emits."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import authorizer

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "observability"
PACKAGE = Path(authorizer.__file__).parent
NAME = re.compile(r'"(entra_authorizer\.[a-z_.]+)"')
ATTRIBUTE = re.compile(r'customDimensions\["([^"]+)"\]')


def emitted_strings() -> set[str]:
    """Every string literal of the package: instrument, span and attribute names are among them."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


def texts() -> dict[str, str]:
    workbook = json.loads((DOCS / "workbook.json").read_text())
    queries = {
        f"workbook: {item['content']['title']}": item["content"]["query"]
        for item in workbook["items"]
        if item["type"] == 3
    }
    queries["queries.kql"] = (DOCS / "queries.kql").read_text()
    markdown = (REPO / "docs" / "observability.md").read_text()
    queries["observability.md"] = "\n".join(re.findall(r"```kusto\n(.*?)```", markdown, re.DOTALL))
    return queries


def test_every_name_and_attribute_the_queries_use_is_emitted() -> None:
    emitted = emitted_strings()
    for where, text in texts().items():
        names = set(NAME.findall(text))
        attributes = set(ATTRIBUTE.findall(text))
        assert names, f"{where} names no instrument"
        assert names <= emitted, f"{where}: {sorted(names - emitted)}"
        assert attributes <= emitted, f"{where}: {sorted(attributes - emitted)}"


def test_the_workbook_charts_each_query_of_the_file() -> None:
    workbook = json.loads((DOCS / "workbook.json").read_text())
    assert workbook["version"] == "Notebook/1.0"
    charted = [item["content"]["query"].strip() for item in workbook["items"] if item["type"] == 3]
    kql = (DOCS / "queries.kql").read_text()
    assert len(charted) == 4 and all(query in kql for query in charted)


def test_a_name_the_code_does_not_emit_is_caught() -> None:
    # A checker that finds nothing passes everything.
    emitted = emitted_strings()
    assert "entra_authorizer.authorization.attempts" in emitted and "entra_authorizer.function" in emitted
    assert "entra_authorizer.authorisation.attempts" not in emitted
