"""The package's import graph, read from the source: no cycles, layers point down.

Imports inside functions count (a deferred import hides a cycle at run time,
not in the design); imports under `if TYPE_CHECKING:` do not (they never run).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "kdbench"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every kdbench module this source imports, anywhere but under TYPE_CHECKING."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m == "kdbench" or m.startswith("kdbench.")}


def import_graph() -> dict[str, set[str]]:
    """module -> the kdbench modules it imports (a `from pkg import name` edge goes to pkg.name
    when that is a module, else to pkg)."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        raw = _imports(ast.parse(path.read_text()), name, path.name == "__init__.py")
        graph[name] = {m for m in raw if m in files and m != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path [a, b, ..., a], or None (iterative DFS, three colours)."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    for start in sorted(graph):
        if colour[start] != WHITE:
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        colour[start] = GREY
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = BLACK
                stack.pop()
                path.pop()
            elif colour[child] == GREY:
                return path[path.index(child) :] + [child]
            elif colour[child] == WHITE:
                colour[child] = GREY
                stack.append((child, iter(sorted(graph[child]))))
                path.append(child)
    return None


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_planted_cycle_and_a_deferred_import(tmp_path):
    src = "def f():\n    from kdbench.b import x\n"
    deps = _imports(ast.parse(src), "kdbench.a", False)
    assert deps == {"kdbench.b", "kdbench.b.x"}
    guarded = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import kdbench.b\n"
    assert _imports(ast.parse(guarded), "kdbench.a", False) == set()
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_config_is_the_schema_only():
    """config.py sits low: it may import nothing of kdbench but the errors."""
    graph = import_graph()
    assert graph["kdbench.config"] <= {"kdbench.errors"}
    assert graph["kdbench.inputs"] <= {"kdbench.errors"}


# ---------------------------------------------------- the layers, checked by import-linter

PYPROJECT = PACKAGE.parent / "pyproject.toml"


def _layers() -> list[list[str]]:
    import tomllib

    contract = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"][0]
    return [[m.strip() for m in line.split("|")] for line in contract["layers"]]


def _lint(root: Path) -> subprocess.CompletedProcess:
    """`lint-imports` of the venv, run in `root` (a folder holding pyproject.toml + kdbench/)."""
    exe = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(exe)], cwd=root, capture_output=True, text=True, env=env)


def test_import_linter_keeps_the_layers_contract():
    result = _lint(PACKAGE.parent)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 kept, 0 broken" in result.stdout


def test_every_kdbench_module_sits_in_a_layer():
    tops = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    tops |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    named = {m.removeprefix("kdbench.") for line in _layers() for m in line}
    assert tops == named, f"not in a layer: {sorted(tops - named)}; gone: {sorted(named - tops)}"


def test_the_layers_contract_fails_on_an_upward_import(tmp_path):
    """A copy of the package where a low module imports the runner: the contract breaks."""
    shutil.copytree(PACKAGE, tmp_path / "kdbench", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    low = tmp_path / "kdbench" / "inputs.py"
    low.write_text(low.read_text() + "\nimport kdbench.runner  # noqa\n")
    result = _lint(tmp_path)
    assert result.returncode != 0 and "kdbench.inputs -> kdbench.runner" in result.stdout
