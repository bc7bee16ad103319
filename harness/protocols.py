"""The protocol packages of the harness, found rather than listed: every package under
``harness/`` other than ``core`` and ``report`` is one. A package's ``targets`` module (if
any) registers its target kinds (harness.core.registry); its ``fixtures`` module (if any) is
a pytest plugin the netconform plugin registers. Adding a protocol is adding a package."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from pathlib import Path
from typing import TYPE_CHECKING

import harness

if TYPE_CHECKING:
    import pytest

NOT_PROTOCOLS = frozenset({"core", "report"})


def packages() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.iter_modules(harness.__path__)
        if info.ispkg and info.name not in NOT_PROTOCOLS
    )


def _modules(name: str) -> list[str]:
    found = []
    for package in packages():
        module = f"harness.{package}.{name}"
        if importlib.util.find_spec(module) is not None:
            found.append(module)
    return found


def fixture_modules() -> list[str]:
    return _modules("fixtures")


def load_targets() -> None:
    """Import every package's ``targets`` module, so that the registry knows every kind."""
    for module in _modules("targets"):
        importlib.import_module(module)


def shipped_baselines() -> list[Path]:
    """The known deviations protocol packages ship (harness/dhcp/baseline.toml)."""
    return sorted(Path(harness.__file__).parent.glob("*/baseline.toml"))


def protocol_of(item: pytest.Item) -> str:
    """The suite folder a test lives in, as the report's label: TCP, DHCP, SUBNET, ICMP."""
    return Path(str(item.path)).parent.name.upper()
