"""What every protocol package reads from a run's command line (the options themselves are
declared by the plugin, harness.plugin), and what each adds to the run's environment."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from harness.core.cgroups import Limits
from harness.core.tolerance import Tolerance

ENVIRONMENT_KEY = pytest.StashKey[dict[str, str]]()
DEFAULT_PCAP_DIR = Path("reports/pcaps")


def add_options(parser: pytest.Parser, options: list[tuple[str, dict[str, Any]]]) -> None:
    """Declare ``options`` (flag, argparse settings) in netconform's group of pytest's help."""
    group = parser.getgroup("netconform", "protocol conformance (netconform)")
    for flag, settings in options:
        group.addoption(flag, **settings)


def limits(config: pytest.Config) -> Limits:
    """--target-memory and --target-cpus, checked."""
    memory, cpus = config.getoption("target_memory"), config.getoption("target_cpus")
    if not 16 <= memory <= 1 << 20:
        raise pytest.UsageError("--target-memory must be between 16 and 1048576 MB")
    if not (math.isfinite(cpus) and 0.05 <= cpus <= 1024):
        raise pytest.UsageError("--target-cpus must be between 0.05 and 1024")
    return Limits(memory, cpus)


def tolerance(config: pytest.Config) -> Tolerance:
    """How far an RFC time window is widened (--timing-floor, --timing-pct)."""
    return Tolerance(config.getoption("timing_floor") / 1000.0, config.getoption("timing_pct"))


def pcap_dir(config: pytest.Config) -> Path:
    return Path(config.getoption("pcap_dir"))


def add_environment(config: pytest.Config, entries: dict[str, str]) -> None:
    """Entries for the report's run environment (Java-style keys: no spaces, colons or =)."""
    config.stash.setdefault(ENVIRONMENT_KEY, {}).update(entries)


def environment(config: pytest.Config) -> dict[str, str]:
    entries: dict[str, str] = config.stash.get(ENVIRONMENT_KEY, {})
    return dict(entries)
