"""The package's folders import each other only downwards.

Imports are read with ``ast`` from every module of the package, including the
ones inside functions (a function-level import is still a dependency: it just
fails later). The rules:

* ``fileio`` imports nothing else of the package; ``metrics`` imports only
  itself and ``fileio`` and never ESPnet, transformers or peft;
* no import loop between top-level folders (modules directly in the package,
  like ``config_options.py``, count as folders of their own);
* package code never imports ``espnet_llm_entropy.testing`` (tests do), and
  ``testing`` is not imported by anything but itself.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest

import espnet_llm_entropy

PACKAGE = "espnet_llm_entropy"
ROOT = Path(espnet_llm_entropy.__file__).resolve().parent
HEAVY = ("espnet", "espnet2", "transformers", "peft")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, name: str = "") -> Iterator[Tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``, at any depth.

    Args:
        path: a module file.
        name: its dotted module name (default: from its place in the package).
    """
    name = name or module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:  # `from pkg import submodule`
                yield node.lineno, f"{target}.{alias.name}"


def folder_of(module: str) -> str:
    """Top-level folder of a package module (``espnet_llm_entropy.train.x`` -> ``train``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def package_files() -> List[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)


def folder_graph() -> Dict[str, Dict[str, List[str]]]:
    """folder -> imported folder -> ``file:line`` of the imports (top-level names only)."""
    # a folder with modules counts even without __init__.py (tasks/ is a namespace package)
    folders = {p.name for p in ROOT.iterdir() if p.is_dir() and any(p.glob("*.py"))}
    folders |= {p.stem for p in ROOT.glob("*.py")} - {"__init__"}
    graph: Dict[str, Dict[str, List[str]]] = defaultdict(lambda: defaultdict(list))
    for path in package_files():
        source = folder_of(module_name(path))
        for line, target in imported_modules(path):
            if not target.startswith(PACKAGE + "."):
                continue
            dest = folder_of(target)
            where = f"{path.relative_to(ROOT.parent)}:{line}"
            if dest in folders and source and dest != source and where not in graph[source][dest]:
                graph[source][dest].append(where)
    return graph


def find_cycle(graph: Dict[str, Dict[str, List[str]]]) -> List[str]:
    """One cycle of folder names (first == last), or [] when there is none."""
    state: Dict[str, int] = {}
    stack: List[str] = []

    def visit(node: str) -> List[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def imports_from(folder: str) -> Iterator[Tuple[str, str]]:
    """(``file:line``, imported module) for every import in one top-level folder."""
    for path in sorted((ROOT / folder).rglob("*.py")):
        for line, target in imported_modules(path):
            yield f"{path.relative_to(ROOT.parent)}:{line}", target


@pytest.mark.parametrize("folder, allowed", [("fileio", set()), ("metrics", {"fileio"})])
def test_bottom_layers_import_nothing_above_them(folder, allowed):
    bad = []
    for where, target in imports_from(folder):
        top = target.split(".")[0]
        if top in HEAVY:
            bad.append(f"{where}: {target}")
        elif top == PACKAGE and folder_of(target) not in allowed | {folder}:
            bad.append(f"{where}: {target}")
    assert not bad, f"{folder}/ must stay pure (only {sorted(allowed | {folder})} of the package, no ESPnet):\n" + "\n".join(bad)


def test_no_import_loop_between_folders():
    graph = folder_graph()
    cycle = find_cycle(graph)
    if cycle:
        edges = [f"  {a} -> {b}: {', '.join(graph[a][b][:3])}" for a, b in zip(cycle, cycle[1:])]
        pytest.fail("import loop between folders " + " -> ".join(cycle) + ":\n" + "\n".join(edges))


def test_package_code_never_imports_testing():
    graph = folder_graph()
    users = {src: where for src, dests in graph.items() for dest, where in dests.items() if dest == "testing"}
    assert not users, f"espnet_llm_entropy.testing is for tests only; imported from {users}"


def _graph_of(edges: Dict[str, Set[str]]) -> Dict[str, Dict[str, List[str]]]:
    return {a: {b: ["x.py:1"] for b in bs} for a, bs in edges.items()}


def test_cycle_finder_sees_a_loop_and_accepts_a_chain():
    assert find_cycle(_graph_of({"analysis": {"tasks"}, "tasks": {"train"}, "train": {"analysis"}})) == [
        "analysis", "tasks", "train", "analysis"]
    assert find_cycle(_graph_of({"analysis": {"tasks", "metrics"}, "tasks": {"train"}, "train": {"metrics"}})) == []


def test_function_level_and_relative_imports_are_seen(tmp_path):
    module = tmp_path / "mod.py"
    module.write_text("def f():\n    from espnet_llm_entropy.train import x\n    from ..metrics import cka\n")
    found = {target for _, target in imported_modules(module, f"{PACKAGE}.sub.mod")}
    assert {f"{PACKAGE}.train", f"{PACKAGE}.metrics", f"{PACKAGE}.metrics.cka"} <= found
