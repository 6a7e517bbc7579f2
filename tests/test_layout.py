"""The house rules that a reader relies on, checked on the source: small modules, no
import loops, the store importing nothing above it, pure modules staying pure."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

SOURCE = Path(__file__).parent.parent / "app"
PACKAGE = "celery_scope"
MAX_LINES = 400
PURE = ["formatting", "tasks.filters", "tasks.csv_guard", "workers.frames", "workers.liveness",
        "series.spec", "series.frames", "collector.decode"]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PACKAGE, *parts])


def top_level_imports(path: Path) -> set[str]:
    """Package modules imported when `path` is imported (not those imported in functions)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")
            base = base[:len(base) - node.level + 1]
            target = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in MODULES else target)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE):
            found.add(node.module)
    return found & set(MODULES)


MODULES = {module_name(path): path for path in SOURCE.rglob("*.py")}


def test_no_module_is_over_400_lines():
    long = {name: lines for name, path in MODULES.items()
            if (lines := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long


def test_no_import_loop():
    graph = {name: top_level_imports(path) for name, path in MODULES.items()}
    # a package's __init__ is imported before its modules: that edge is not a loop
    for name in graph:
        graph[name] = {target for target in graph[name] if not name.startswith(target + ".")}
    visiting, done, loops = set(), set(), []

    def visit(name, trail):
        if name in done:
            return
        if name in visiting:
            loops.append(trail[trail.index(name):] + [name])
            return
        visiting.add(name)
        for target in sorted(graph[name]):
            visit(target, trail + [name])
        visiting.discard(name)
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
    assert not loops


def test_the_store_imports_nothing_above_it():
    above = {name: sorted(target for target in top_level_imports(path)
                          if not target.startswith(f"{PACKAGE}.store"))
             for name, path in MODULES.items() if name.startswith(f"{PACKAGE}.store")}
    assert not {name: targets for name, targets in above.items() if targets}


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_pull_in_no_framework(module):
    code = (f"import sys, {PACKAGE}.{module}; "
            "print(sorted(m for m in ('flask', 'dash', 'sqlalchemy', 'kombu') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
