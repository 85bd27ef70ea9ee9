"""The layers point one way: ``core`` imports neither ``tenants`` nor ``plugins`` nor the
composition root ``storeplug``; ``tenants`` builds on core; ``plugins`` on core and tenants;
``storeplug`` (and the alembic environment) may import everything. Type-checking imports
count too, and no module below the root imports first-party code inside a function (the
old way of dodging an import cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = ("core", "tenants", "plugins", "storeplug", "migrations")
# package -> the first-party packages it may import
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset({"core"}),
    "tenants": frozenset({"core", "tenants"}),
    "plugins": frozenset({"core", "tenants", "plugins"}),
    "storeplug": frozenset(FIRST_PARTY),
    "migrations": frozenset(FIRST_PARTY),
}
# Packages whose modules must import first-party code at module level only.
NO_FUNCTION_IMPORTS = frozenset({"core", "tenants", "plugins"})


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        return [node.module] if node.module and node.level == 0 else []
    return [alias.name for alias in node.names]


def violations(root: Path) -> list[str]:
    """Every import under ``root`` that points the wrong way, as ``path:line: message``."""
    found = []
    for package, allowed in ALLOWED.items():
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            in_function: set[int] = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                    in_function.update(id(sub) for sub in ast.walk(node) if sub is not node)
            for node in ast.walk(tree):
                if not isinstance(node, ast.Import | ast.ImportFrom):
                    continue
                where = f"{path.relative_to(root)}:{node.lineno}"
                for module in _imported(node):
                    top = module.split(".")[0]
                    if top not in FIRST_PARTY:
                        continue
                    if top not in allowed:
                        found.append(f"{where}: {package} imports {module}")
                    elif package in NO_FUNCTION_IMPORTS and id(node) in in_function:
                        found.append(f"{where}: {module} imported inside a function")
    return found


def test_the_layers_point_one_way() -> None:
    assert violations(ROOT) == []


def test_a_back_import_is_caught(tmp_path: Path) -> None:
    for package in ALLOWED:
        (tmp_path / package).mkdir()
    (tmp_path / "core" / "bad.py").write_text("from tenants.models import StaffUser\n")
    (tmp_path / "core" / "typed.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import storeplug.app\n"
    )
    (tmp_path / "tenants" / "lazy.py").write_text(
        "def f():\n    from core.db import new_id\n    return new_id()\n"
    )
    (tmp_path / "plugins" / "fine.py").write_text("from core.db import new_id\nimport json\n")
    (tmp_path / "storeplug" / "root.py").write_text("def f():\n    import plugins\n")
    assert violations(tmp_path) == [
        "core/bad.py:1: core imports tenants.models",
        "core/typed.py:3: core imports storeplug.app",
        "tenants/lazy.py:2: core.db imported inside a function",
    ]
