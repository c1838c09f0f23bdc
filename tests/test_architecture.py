"""The package's dependencies run one way: no import cycle, lazy imports included."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "lesson_lib"


def module_names() -> dict:
    """``{"lesson_lib.train.loop": path, ...}`` for every module of the package."""
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def imports_of(name: str, path: Path, known: dict) -> set:
    """Modules of the package that ``name`` imports anywhere in its file (functions too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{alias.name}" for alias in node.names] + [module]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for target in targets:
            if target in known and target != name:
                found.add(target)
                break
    return found


def graph() -> dict:
    known = module_names()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def find_cycle(edges: dict):
    """One cycle as a list of modules, or None. Example: {a: {b}, b: {a}} -> [a, b, a]."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_find_cycle_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_lazy_imports(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("def f():\n    from .train import train\n    from . import data\n")
    known = {"lesson_lib.m": path, "lesson_lib.train": path, "lesson_lib.data": path}
    assert imports_of("lesson_lib.m", path, known) == {"lesson_lib.train", "lesson_lib.data"}


def test_no_import_cycle_in_lesson_lib():
    edges = graph()
    assert len(edges) > 30
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("low", ["lesson_lib.checkpoints", "lesson_lib.train.loop",
                                 "lesson_lib.gpt", "lesson_lib.finetune", "lesson_lib.scaling"])
def test_the_library_below_knows_nothing_of_recipes_or_the_cli(low):
    edges = graph()
    seen, todo = set(), [low]
    while todo:  # everything `low` depends on, directly or not
        for nxt in edges[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    above = {m for m in seen if m.startswith(("lesson_lib.recipes", "lesson_lib.pretrained",
                                               "lesson_lib.cli", "lesson_lib.exercises"))}
    assert not above, f"{low} reaches up to {sorted(above)}"
