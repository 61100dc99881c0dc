"""The rooms of the house depend on each other one way only (CONTRIBUTING.md, "Layout")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "aelab"
# room -> rooms it must never import
FORBIDDEN = {
    "metrics": ("aelab.callbacks", "aelab.replicas"),
    "models": ("aelab.metrics", "aelab.callbacks", "aelab.data", "aelab.replicas"),
    "nets": ("aelab.models", "aelab.metrics", "aelab.callbacks", "aelab.data", "aelab.replicas"),
    "data": ("aelab.models", "aelab.metrics", "aelab.callbacks", "aelab.replicas"),
    "callbacks": ("aelab.replicas",),
}


def imported(path: Path) -> set[str]:
    """The modules a file imports (at any depth of the file)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("room", FORBIDDEN)
def test_a_room_never_imports_the_rooms_that_build_on_it(room):
    offending = {
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in (PACKAGE / room).rglob("*.py")
        for name in imported(path)
        if name.startswith(FORBIDDEN[room])
    }
    assert not offending, sorted(offending)
