"""reference_impl is sans-I/O: no clock, socket, randomness, thread, Scapy or harness."""

import ast
from pathlib import Path

import reference_impl

FORBIDDEN = {
    "socket",
    "time",
    "random",
    "threading",
    "asyncio",
    "select",
    "scapy",
    "harness",
    "datetime",
    "secrets",
    "subprocess",
    "os",
}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_reference_impl_imports_no_io_clock_or_randomness():
    root = Path(reference_impl.__file__).parent
    offenders = {
        str(path.relative_to(root)): sorted(imported_modules(path) & FORBIDDEN)
        for path in root.rglob("*.py")
        if imported_modules(path) & FORBIDDEN
    }
    assert offenders == {}
