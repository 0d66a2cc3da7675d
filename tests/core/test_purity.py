"""The core stays pure: only the standard library, sortedcontainers and itself."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import stream.core

ALLOWED = {*sys.stdlib_module_names, "sortedcontainers", "__future__"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _foreign(name: str) -> bool:
    return name.split(".", maxsplit=1)[0] not in ALLOWED and not name.startswith("stream.core")


def test_core_imports_nothing_but_the_standard_library_and_sortedcontainers() -> None:
    modules = sorted(Path(stream.core.__file__).parent.glob("*.py"))
    assert len(modules) > 10
    offenders = {p.name: set(filter(_foreign, _imports(p))) for p in modules}
    assert {name: bad for name, bad in offenders.items() if bad} == {}
