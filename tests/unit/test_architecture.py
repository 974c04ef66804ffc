"""The rules of docs/architecture.md, checked on the code's imports (module level, and the
imports inside functions too: a lazy import is still a dependency)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def modules() -> dict[str, Path]:
    out = {}
    for path in [*ROOT.joinpath("gateway").rglob("*.py"), *ROOT.joinpath("drivers").rglob("*.py")]:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def imports(path: Path, known: set[str], *, module_level_only: bool) -> set[str]:
    """The project's modules imported by ``path`` (TYPE_CHECKING blocks excluded)."""
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    nodes: list[ast.AST] = []
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
            continue
        if module_level_only and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if module_level_only and isinstance(node, ast.ClassDef):
            continue
        nodes.extend(ast.walk(node))
    for n in nodes:
        if isinstance(n, ast.ImportFrom) and n.module and not n.level:
            for candidate in (n.module, *(f"{n.module}.{a.name}" for a in n.names)):
                if candidate in known:
                    found.add(candidate)
        elif isinstance(n, ast.Import):
            found.update(a.name for a in n.names if a.name in known)
    return found


def test_no_import_cycle_between_modules() -> None:
    mods = modules()
    graph = {m: imports(p, set(mods), module_level_only=True) - {m} for m, p in mods.items()}
    seen: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(m: str, path: list[str]) -> None:
        seen[m] = 1
        for n in sorted(graph[m]):
            assert seen.get(n) != 1, f"import cycle: {' -> '.join([*path, m, n])}"
            if n not in seen:
                visit(n, [*path, m])
        seen[m] = 2

    for m in sorted(graph):
        if m not in seen:
            visit(m, [])


def test_drivers_are_pure_and_the_web_knows_only_its_port() -> None:
    mods = modules()
    for m, p in mods.items():
        used = imports(p, set(mods), module_level_only=False)
        if m.startswith("drivers"):
            assert not {u for u in used if u.startswith("gateway")}, m
        if m.startswith("gateway.web"):
            outside = {u for u in used if not u.startswith("gateway.web") and u != "gateway"}
            assert not outside, f"{m} imports {sorted(outside)}"
