"""The import layering that keeps dynvfi_core a library, checked on the source (every import,
also those inside functions):

- the application shell (command-line dispatch, the demo, benchmarks) is imported by nothing but
  other shell modules: a library user never pays for it nor gets its side effects;
- the core's library modules import none of the areas (collect, annotate, train, db): the areas
  build on the core, never the other way round.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
AREAS = ("collect", "annotate", "train", "db")
#: the shell: entry points and benchmarks (``<area>/cli.py`` and ``<area>/bench.py`` too)
CORE_SHELL = {"dynvfi_core.cli", "dynvfi_core.commands", "dynvfi_core.demo", "dynvfi_core.bench",
              "dynvfi_core.route_cli", "dynvfi_core.reference", "dynvfi_core.dpa.bench"}


def _module(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def _is_shell(module: str) -> bool:
    return module in CORE_SHELL or module.rsplit(".", 1)[-1] in ("cli", "bench")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)  # `from pkg import module`
    return found


def _library_modules() -> list[tuple[str, Path]]:
    files = [p for pkg in ("dynvfi_core", *AREAS) for p in (REPO / pkg).rglob("*.py")
             if "migrations" not in p.parts]
    return [(_module(p), p) for p in sorted(files) if not _is_shell(_module(p))]


def test_the_tree_is_what_this_test_expects() -> None:
    modules = {m for m, _ in _library_modules()}
    assert {"dynvfi_core.metrics", "dynvfi_core.routing.pipeline", "collect.worker", "train.trainer"} <= modules
    assert all(_is_shell(m) for m in CORE_SHELL) and not _is_shell("dynvfi_core.metrics")


@pytest.mark.parametrize("module, path", _library_modules(), ids=lambda x: x if isinstance(x, str) else "")
def test_library_modules_do_not_import_the_shell(module: str, path: Path) -> None:
    shell = sorted(m for m in _imports(path) if _is_shell(m) and m.split(".")[0] in ("dynvfi_core", *AREAS))
    assert not shell, f"{module} imports the application shell: {shell}"
    if module.startswith("dynvfi_core"):
        areas = sorted(m for m in _imports(path) if m.split(".")[0] in AREAS)
        assert not areas, f"{module} (core) imports an area: {areas}"
