"""Targets: what the suites test. One module per kind (see DESIGN.md, "Targets")."""

from __future__ import annotations

from harness.errors import SetupError

BUILT_IN = ("linux",)


def check_target_spec(spec: str) -> str:
    """Validate a ``--target`` value; raise SetupError with the known ones if it is unknown."""
    if spec in BUILT_IN:
        return spec
    raise SetupError(f"unknown target {spec!r}; known targets: {', '.join(BUILT_IN)}")
