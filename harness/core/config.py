"""What every protocol package reads from a run's command line (the options themselves are
declared by the plugin, harness.plugin), and what each adds to the run's environment."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, NoReturn

import pytest

from harness.core.cgroups import Limits
from harness.core.tolerance import Tolerance
from harness.core.verdicts import TARGET_KEY, TEST_ID_KEY, VERSION_KEY

ENVIRONMENT_KEY = pytest.StashKey[dict[str, str]]()
DEFAULT_PCAP_DIR = Path("reports/pcaps")
TIMING_SCALE_ENV = "NETCONFORM_TIMING_SCALE"


def add_options(parser: pytest.Parser, options: list[tuple[str, dict[str, Any]]]) -> None:
    """Declare ``options`` (flag, argparse settings) in netconform's group of pytest's help."""
    group = parser.getgroup("netconform", "protocol conformance (netconform)")
    for flag, settings in options:
        group.addoption(flag, **settings)


def limits(config: pytest.Config) -> Limits:
    """--target-memory and --target-cpus, checked."""
    memory, cpus = config.getoption("target_memory"), config.getoption("target_cpus")
    if not 16 <= memory <= 1 << 20:
        usage_error("--target-memory must be between 16 and 1048576 MB")
    if not (math.isfinite(cpus) and 0.05 <= cpus <= 1024):
        usage_error("--target-cpus must be between 0.05 and 1024")
    return Limits(memory, cpus)


def tolerance(config: pytest.Config) -> Tolerance:
    """How far an RFC time window is widened (--timing-floor, --timing-pct), and how much
    every window and wait is stretched on a slow machine (--timing-scale)."""
    floor, pct = config.getoption("timing_floor") / 1000.0, config.getoption("timing_pct")
    return Tolerance(floor, pct, timing_scale(config))


def timing_scale(config: pytest.Config) -> float:
    """--timing-scale, else $NETCONFORM_TIMING_SCALE, else 1; between 1 and 100."""
    given = config.getoption("timing_scale")
    text = str(given) if given is not None else os.environ.get(TIMING_SCALE_ENV, "1")
    try:
        scale = float(text)
    except ValueError:
        usage_error(f"timing scale {text!r}: give a number from 1 to 100")
    if not (math.isfinite(scale) and 1 <= scale <= 100):
        usage_error(f"timing scale {text!r}: give a number from 1 to 100")
    return scale


def pcap_dir(config: pytest.Config) -> Path:
    return Path(config.getoption("pcap_dir"))


def usage_error(message: str) -> NoReturn:
    """A bad command line or set-up: one line and exit status 2, before anything starts."""
    pytest.exit(f"netconform: {message}", returncode=2)


def tag_target(item: pytest.Item, name: str, version: str = "") -> None:
    """Record the test's target (short name and version) and its target-independent id,
    which baselines name (harness.core.baseline)."""
    item.user_properties.append((TARGET_KEY, name))
    item.user_properties.append((TEST_ID_KEY, test_id_without(item, name)))
    item.user_properties.append((VERSION_KEY, version))


REPETITION = "netconform_run"  # the parameter --repeat and --stress add (harness.plugin)


def test_id_without(item: pytest.Item, target: str) -> str:
    """``suites/x.py::test_y[run3-linux-inside]`` -> ``suites/x.py::test_y[inside]``: the
    id with the target's own parameter and the repetition (--repeat, --stress) taken out."""
    base = item.nodeid.partition("[")[0]
    callspec = getattr(item, "callspec", None)
    ids = list(getattr(callspec, "_idlist", None) or (callspec.id.split("-") if callspec else []))
    if target in ids:
        ids.remove(target)
    if callspec is not None and REPETITION in callspec.params:
        ids.remove(f"run{callspec.params[REPETITION]}")
    return f"{base}[{'-'.join(ids)}]" if ids else base


def add_environment(config: pytest.Config, entries: dict[str, str]) -> None:
    """Entries for the report's run environment (Java-style keys: no spaces, colons or =)."""
    config.stash.setdefault(ENVIRONMENT_KEY, {}).update(entries)


def environment(config: pytest.Config) -> dict[str, str]:
    entries: dict[str, str] = config.stash.get(ENVIRONMENT_KEY, {})
    return dict(entries)
