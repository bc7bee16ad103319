"""The layout CONTRIBUTING.md describes, checked: harness packages import each other in one
direction only (core below everything, the report above core only, protocol packages above
both, the plugin and the commands on top), no function is longer than a screen, and every
protocol package's fixtures reach pytest."""

import ast
import importlib
from pathlib import Path

import pytest

import harness
import reference_impl
from harness import protocols

HARNESS = Path(harness.__file__).parent
MAX_FUNCTION_LINES = 60
# What each layer may import, besides itself: lower layers only.
ALLOWED = {
    "core": set(),
    "report": {"core"},
    "hosts": {"core", "report"},
    "tcp": {"core", "report", "hosts"},
    "icmp": {"core", "report", "hosts"},
    "dhcp": {"core", "report"},
}


def package_of(module: str) -> str:
    """harness.tcp.peer -> tcp; harness.cli (a top-level module) -> the top."""
    parts = module.split(".")
    if len(parts) > 2 or (HARNESS / parts[1]).is_dir():
        return parts[1]
    return "(top)"


def harness_imports(path: Path) -> set[str]:
    """The harness modules ``path`` imports, at any depth of its code (lazy imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("harness.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "harness":
                found |= {f"harness.{a.name}" for a in node.names}
            elif node.module.startswith("harness."):
                found.add(node.module)
    return found


def package_edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in HARNESS.rglob("*.py"):
        if "node_modules" in path.parts:
            continue
        module = ".".join(path.relative_to(HARNESS.parent).with_suffix("").parts)
        source = package_of(module) if module.count(".") else "(top)"
        for target in harness_imports(path):
            edges.setdefault(source, set()).add(package_of(target))
    return {source: targets - {source} for source, targets in edges.items()}


def test_harness_packages_import_only_the_layers_below_them():
    edges = package_edges()
    wrong = {
        package: sorted(targets - ALLOWED[package])
        for package, targets in edges.items()
        if package in ALLOWED and targets - ALLOWED[package]
    }
    assert wrong == {}, f"imports against the layering: {wrong}"


def test_every_harness_package_has_a_place_in_the_layering():
    packages = {p.name for p in HARNESS.iterdir() if (p / "__init__.py").exists()}
    assert packages <= set(ALLOWED), f"add {sorted(packages - set(ALLOWED))} to ALLOWED"


def test_there_is_no_import_cycle_between_harness_packages():
    edges = package_edges()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in edges.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(p for p in edges if reaches(p, p, {p}))
    assert cycles == [], f"packages on an import cycle: {cycles}"


def long_functions(root: Path) -> list[str]:
    found = []
    for path in root.rglob("*.py"):
        if "node_modules" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    found.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name}")
    return found


@pytest.mark.parametrize("package", [harness, reference_impl], ids=lambda p: p.__name__)
def test_no_function_is_longer_than_sixty_lines(package):
    assert long_functions(Path(package.__file__).parent) == []


def test_every_protocol_package_is_found_and_its_fixtures_import():
    assert {"hosts", "tcp", "dhcp", "icmp"} <= set(protocols.packages())
    for module in protocols.fixture_modules():
        importlib.import_module(module)
    assert "harness.icmp.fixtures" in protocols.fixture_modules()
