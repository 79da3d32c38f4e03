"""The package map holds: every module imports only packages below it.

The table is the one of ``docs/architecture.md`` ("Dependencies between packages"):
each package may import the packages it names and, through them, whatever those may
import. ``openect.errors``, ``openect.formatting`` and ``openect.settings`` are the
foundation every package may use; the core packages never import Django, typer or the
web layer.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import openect

SOURCE = Path(openect.__file__).parent

#: Packages each package may import directly (the rest follows by transitivity).
MAY_IMPORT: dict[str, set[str]] = {
    "data": set(),
    "field": set(),
    "protocol": {"data"},
    "response": {"data"},
    "exchange": {"data"},
    "synth": {"data", "protocol", "response"},
    "planning": {"data", "protocol", "field"},
    "outcomes": {"data", "response"},
    "evidence": {"outcomes"},
    "registry": {"data", "protocol", "response", "exchange"},
    "reports": {"planning", "outcomes", "evidence"},
    "web": {"registry", "planning", "outcomes", "evidence"},
    "cli": {
        "data",
        "field",
        "protocol",
        "response",
        "exchange",
        "synth",
        "planning",
        "outcomes",
        "evidence",
        "registry",
        "reports",
        "web",
    },
}
#: Modules of the package root that every package may import.
FOUNDATION = {"errors", "formatting", "settings", ""}
#: Third-party frameworks only the adapters may import.
ADAPTER_ONLY = {"django": {"registry", "web", "cli"}, "ninja": {"web"}, "typer": {"cli"}}


def allowed(package: str) -> set[str]:
    """``package``'s direct imports and, transitively, theirs."""
    out: set[str] = set()
    todo = list(MAY_IMPORT[package])
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            todo.extend(MAY_IMPORT[name])
    return out | FOUNDATION | {package}


def package_of(path: Path) -> str:
    """The first-level package of a source file (``""`` for the root modules)."""
    parts = path.relative_to(SOURCE).with_suffix("").parts
    if parts == ("__main__",):
        return "cli"  # ``python -m openect`` is the command line
    if len(parts) == 1:
        return parts[0] if parts[0] in MAY_IMPORT else ""
    return parts[0]


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every absolute import in ``path``, including those in functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "openect":
                for alias in node.names:
                    yield node.lineno, f"openect.{alias.name}"
            else:
                yield node.lineno, node.module


SOURCES = sorted(p for p in SOURCE.rglob("*.py") if "migrations" not in p.parts)


def test_every_package_is_in_the_map() -> None:
    packages = {p.name for p in SOURCE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in SOURCE.glob("*.py")} - {"__init__", "__main__"}
    assert packages | (modules - FOUNDATION) <= set(MAY_IMPORT)
    assert (modules - set(MAY_IMPORT)) <= FOUNDATION


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(SOURCE)))
def test_imports_point_down(path: Path) -> None:
    package = package_of(path)
    permitted = FOUNDATION if package in FOUNDATION else allowed(package)
    wrong = []
    for line, module in imports(path):
        parts = module.split(".")
        if parts[0] == "openect" and len(parts) > 1:
            target = parts[1] if parts[1] in MAY_IMPORT or parts[1] in FOUNDATION else ""
            if target not in permitted:
                wrong.append(f"line {line}: {module}")
        elif parts[0] in ADAPTER_ONLY and package not in ADAPTER_ONLY[parts[0]]:
            wrong.append(f"line {line}: {module} (adapters only)")
    assert not wrong, f"{path.relative_to(SOURCE)} imports against the package map: {wrong}"
