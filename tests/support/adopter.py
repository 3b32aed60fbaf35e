"""docs/testing.md's app, test file and pytest.ini, written into an adopter's folder as the page shows them."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "testing.md"
# The page's own test file, and how many tests it holds.
DOCUMENTED_TESTS = 7


def write_documented_app(folder: Path) -> None:
    """function_app.py, tests/test_orders.py and pytest.ini, exactly as docs/testing.md has them."""
    text = PAGE.read_text()
    app, tests = re.findall(r"```python\n(.*?)```", text, re.DOTALL)[:2]
    [ini] = re.findall(r"```ini\n(.*?)```", text, re.DOTALL)
    (folder / "function_app.py").write_text(app)
    (folder / "tests").mkdir()
    (folder / "tests" / "test_orders.py").write_text(tests)
    (folder / "pytest.ini").write_text(ini)
    assert len(re.findall(r"^def test_", tests, re.MULTILINE)) == DOCUMENTED_TESTS
