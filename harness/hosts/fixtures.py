"""Fixtures for tests whose subject is a host target (``--target``): the ``target`` bed,
parametrized over the selected targets, one per session each."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

from harness.core import config as run_config
from harness.core.bedpool import BedPool
from harness.core.doctor import require_runtime
from harness.core.errors import SetupError
from harness.core.impair import A_TO_B, Impairment
from harness.core.registry import DEFAULT_START_TIMEOUT_S
from harness.core.topology import TARGET_SYSCTLS
from harness.hosts.bed import TestBed
from harness.hosts.spec import BUILT_IN, parse_target, target_names
from reference_impl.tcp.profiles import PROFILES

OPTIONS: list[tuple[str, dict[str, Any]]] = [
    (
        "--target",
        dict(
            action="append",
            default=None,
            metavar="TARGET",
            help=f"target to test, repeatable: {', '.join(BUILT_IN)}, cmd:COMMAND or "
            "NAME=cmd:COMMAND (NAME is what ids and reports show; default: every built-in target)",
        ),
    ),
    (
        "--profile",
        dict(
            default="rfc",
            help="what targets are expected to behave like: rfc (what the RFCs require, the "
            "default) or linux (Linux's habits, e.g. quick ACKs at start); the reference host "
            "behaves so, and the TCP oracle expects it",
        ),
    ),
    (
        "--sysctl",
        dict(
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="pin a sysctl in the kernel target's namespace over netconform's defaults, "
            "repeatable (e.g. net.ipv4.tcp_ecn=1); shown in the report",
        ),
    ),
    (
        "--start-timeout",
        dict(
            type=float,
            default=DEFAULT_START_TIMEOUT_S,
            metavar="S",
            help="seconds a userspace stack may take from its start to its answer to 'hello' "
            f"(default {DEFAULT_START_TIMEOUT_S:g}); the measured time is in the report",
        ),
    ),
    (
        "--target-tests-only",
        dict(
            action="store_true",
            help="run only the tests whose subject is a --target (the TCP, ICMP and on-link "
            "suites), not the calculator's or the DHCP daemons' (netconform matrix uses it)",
        ),
    ),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    run_config.add_options(parser, OPTIONS)


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("profile") not in PROFILES:
        run_config.usage_error(
            f"--profile {config.getoption('profile')}: choose {' or '.join(sorted(PROFILES))}"
        )
    if not 0 < config.getoption("start_timeout") <= 3600:
        run_config.usage_error("--start-timeout must be between 0 and 3600 seconds")
    try:
        named = list(zip(target_names(_targets(config)), _targets(config), strict=True))
    except SetupError as exc:
        run_config.usage_error(str(exc))
    pinned = {**TARGET_SYSCTLS, **sysctl_overrides(config)}
    run_config.add_environment(
        config,
        {
            "profile": str(config.getoption("profile")),
            "targets": ", ".join(f"{n} ({s})" if n != s else n for n, s in named),
            **{f"linux.sysctl.{k}": v for k, v in pinned.items()},
        },
    )


def sysctl_overrides(config: pytest.Config) -> dict[str, str]:
    """--sysctl NAME=VALUE options, checked: only net.* names, no path tricks."""
    pinned = {}
    for item in config.getoption("sysctl"):
        name, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"net(\.[A-Za-z0-9_-]+)+", name) or not value.strip():
            run_config.usage_error(
                f"--sysctl {item!r}: give NAME=VALUE with a net.* name, e.g. net.ipv4.tcp_ecn=1"
            )
        pinned[name] = value.strip()
    return pinned


# The fixtures that start a host target for a test: its parameter names the target.
BED_FIXTURES = ("target", "lossy_target")


def pytest_runtest_setup(item: pytest.Item) -> None:
    params = getattr(getattr(item, "callspec", None), "params", {})
    for bed in BED_FIXTURES:
        if bed in params:
            spec = parse_target(str(params[bed]))
            run_config.tag_target(item, spec.name, _version(spec.kind))


def _version(kind: str) -> str:
    """What the harness knows of a host target's version: the kernel's release; the
    reference is netconform's own; nothing for a userspace stack of yours."""
    if kind == "linux":
        return os.uname().release
    if kind == "ref":
        return "netconform"
    return ""


def _targets(config: pytest.Config) -> list[str]:
    return config.getoption("target") or list(BUILT_IN)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With --target-tests-only, tests that do not exercise a --target are deselected."""
    if not config.getoption("target_tests_only"):
        return
    about = {id(i) for i in items if set(BED_FIXTURES) & set(getattr(i, "fixturenames", ()))}
    deselected = [item for item in items if id(item) not in about]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if id(item) in about]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for bed in BED_FIXTURES:
        if bed in metafunc.fixturenames:
            targets = _targets(metafunc.config)
            ids = target_names(targets)
            metafunc.parametrize(bed, targets, indirect=True, ids=ids)


@pytest.fixture
def target(request: pytest.FixtureRequest, bed_pool: BedPool) -> TestBed:
    """The target named by the test's parameter, started on a topology of its own (one
    per session: harness.core.bedpool)."""
    return bed_pool.get(("target", request.param), lambda: _bed(request))


# A fifth of the tester's ACKs lost on the way to the target (never a connection's first).
LOSSY_LINK = {A_TO_B: Impairment(ack_loss=0.2)}


@pytest.fixture
def lossy_target(request: pytest.FixtureRequest, bed_pool: BedPool) -> TestBed:
    """The target again, on a topology of its own with the impairment relay between it and
    the tester, losing the tester's ACKs (LOSSY_LINK)."""
    return bed_pool.get(("lossy_target", request.param), lambda: _bed(request, LOSSY_LINK))


def _bed(request: pytest.FixtureRequest, relay: dict[str, Impairment] | None = None) -> TestBed:
    require_runtime()
    return TestBed(
        request.param,
        profile=request.config.getoption("profile"),
        relay=relay,
        sysctls=sysctl_overrides(request.config),
        start_timeout=request.config.getoption("start_timeout"),
        limits=run_config.limits(request.config),
    )
