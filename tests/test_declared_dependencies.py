"""Every package embly_build imports is declared in pyproject.toml, and every declared one is
imported: an undeclared import works only where something else happened to install it."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "embly_build"


def _imported_top_level_modules() -> set[str]:
    modules = set()
    for path in PACKAGE.rglob("*.py"):
        if "generated" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - {"embly_build", "__future__"}


def _declared() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {_normal(re.split(r"[=<>!~\[ ]", spec)[0]) for spec in project["dependencies"]}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_import_is_declared_and_every_declaration_imported() -> None:
    by_module = packages_distributions()
    imported = {
        _normal(distribution)
        for module in _imported_top_level_modules()
        for distribution in by_module.get(module, [module])
    }
    assert imported - _declared() == set(), "imported but not declared in pyproject.toml"
    assert _declared() - imported == set(), "declared in pyproject.toml but never imported"
