"""The rules of docs/architecture.md, checked on the code's imports (module level, and the
imports inside functions too: a lazy import is still a dependency)."""

from __future__ import annotations

import ast
import re
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
            # The web knows its port, and the people who use it (their accounts and the
            # audit of what they do: gateway.access); no component behind the port.
            outside = {
                u
                for u in used
                if not u.startswith(("gateway.web", "gateway.access"))
                and u not in ("gateway", "gateway.timeutil")
            }
            assert not outside, f"{m} imports {sorted(outside)}"


def test_every_table_has_one_owner_module() -> None:
    """SQL naming a table is written in one module of the package (its owner); others
    go through that module's functions."""
    tables: set[str] = set()
    for sql in ROOT.joinpath("gateway", "store", "migrations").glob("*.sql"):
        tables |= set(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", sql.read_text()))
    assert {"outbox", "gateway_meta", "label_twins", "commands"} <= tables
    users: dict[str, set[str]] = {t: set() for t in tables}
    for m, p in modules().items():
        text = p.read_text()
        for t in tables:
            if re.search(rf"\b(?:FROM|INTO|UPDATE|JOIN)\s+{t}\b", text):
                users[t].add(m)
    shared = {t: sorted(u) for t, u in users.items() if len(u) > 1}
    assert not shared, f"tables written to from several modules: {shared}"


def test_the_architecture_page_names_only_what_exists() -> None:
    """Every path and every function or class docs/architecture.md names is in the code,
    so that the walk stays true when something is renamed or moved."""
    page = ROOT.joinpath("docs", "architecture.md").read_text()
    code = "\n".join(p.read_text() for p in modules().values())
    defined = set(re.findall(r"^\s*(?:async def|def|class)\s+(\w+)", code, re.M))
    defined |= set(re.findall(r"^(\w+)\s*[:=]", code, re.M))
    for sql in ROOT.joinpath("gateway", "store", "migrations").glob("*.sql"):
        defined |= set(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", sql.read_text()))
    outside = ("BleakClient.",)  # bleak's own names
    missing = []
    names = 0
    for token in re.findall(r"`([^`\s]+)`", page):
        if "/" in token and not token.startswith("event/"):
            if not ROOT.joinpath(token).exists():
                missing.append(token)
        elif re.fullmatch(r"[A-Za-z_]\w*(\.\w+)?", token) and (
            "_" in token or "." in token or token[:1].isupper()
        ):
            names += 1
            if not token.startswith(outside) and token.rsplit(".", 1)[-1] not in defined:
                missing.append(token)
    assert names > 20, "the page should walk through the code by name"
    assert not missing, f"named on docs/architecture.md but not in the code: {missing}"


def package(module: str) -> str:
    """``gateway.bridge.mqtt`` -> ``gateway.bridge``; a top-level module is its own."""
    return ".".join(module.split(".")[:2])


def test_no_two_packages_import_each_other() -> None:
    """Package level, lazy imports included: a pair that imports each other is one
    package split in two (the bridge and ownership meet in the daemon, through ports)."""
    mods = modules()
    edges: dict[str, set[str]] = {}
    for m, p in mods.items():
        for n in imports(p, set(mods), module_level_only=False):
            if package(n) != package(m):
                edges.setdefault(package(m), set()).add(package(n))
    pairs = sorted(
        (a, b) for a, targets in edges.items() for b in targets if a < b and a in edges.get(b, ())
    )
    assert pairs == [], f"packages importing each other: {pairs}"
