"""The netconform pytest plugin: options, markers, fixtures and verdicts. Thin on purpose:
the work lives in harness.hosts.bed, harness.tcp.peer and harness.report."""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.core import catalogue
from harness.core.cgroups import Limits
from harness.core.doctor import require_runtime
from harness.core.errors import (
    ConformanceFailure,
    NotObserved,
    SetupError,
    TargetError,
    Unsupported,
)
from harness.core.leftovers import remove_dead_runs
from harness.core.requirements import Requirement
from harness.core.signals import install_interrupt_handlers
from harness.core.tolerance import Tolerance
from harness.core.topology import TARGET_SYSCTLS
from harness.core.verdicts import (
    MESSAGE_KEY,
    REQUIREMENT_KEY,
    SUMMARY_KEY,
    VERDICT_KEY,
    VerdictLog,
)
from harness.hosts.bed import TcpCase, TestBed
from harness.hosts.spec import BUILT_IN, DHCP_CLIENTS, DHCP_SERVERS, target_names
from harness.hosts.stack import DEFAULT_START_TIMEOUT_S
from harness.report import allure_report
from harness.report.ladder import ladder_svg, time_sequence_svg
from harness.tcp.oracle import ORACLE_PROFILES

DEFAULT_PCAP_DIR = Path("reports/pcaps")
TIME_SEQUENCE_MIN_SEGMENTS = 4  # a connection that carried this much data gets a plot


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("netconform", "protocol conformance (netconform)")
    group.addoption(
        "--target",
        action="append",
        default=None,
        metavar="TARGET",
        help=f"target to test, repeatable: {', '.join(BUILT_IN)}, cmd:COMMAND or "
        "NAME=cmd:COMMAND (NAME is what ids and reports show; default: every built-in target)",
    )
    group.addoption(
        "--profile",
        default="rfc",
        choices=sorted(ORACLE_PROFILES),
        help="what targets are expected to behave like: rfc (what the RFCs require, the "
        "default) or linux (Linux's habits, e.g. quick ACKs at start)",
    )
    group.addoption(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run every suite test N times (run1..runN); one bad run is a failure, with that "
        "run's own packets as evidence",
    )
    group.addoption(
        "--timing-floor",
        type=float,
        default=20.0,
        metavar="MS",
        help="smallest widening of any RFC time window, in ms (default 20)",
    )
    group.addoption(
        "--timing-pct",
        type=float,
        default=10.0,
        metavar="PCT",
        help="widening of an RFC time window as a percentage of it (default 10)",
    )
    group.addoption(
        "--sysctl",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="pin a sysctl in the kernel target's namespace over netconform's defaults, "
        "repeatable (e.g. net.ipv4.tcp_ecn=1); shown in the report",
    )
    group.addoption(
        "--start-timeout",
        type=float,
        default=DEFAULT_START_TIMEOUT_S,
        metavar="S",
        help="seconds a userspace stack may take from its start to its answer to 'hello' "
        f"(default {DEFAULT_START_TIMEOUT_S:g}); the measured time is in the report",
    )
    group.addoption(
        "--target-memory",
        type=int,
        default=Limits.memory_mb,
        metavar="MB",
        help="memory limit of a userspace stack or DHCP daemon, in its own cgroup "
        f"(default {Limits.memory_mb}); a target that hits it is an ERROR saying so",
    )
    group.addoption(
        "--target-cpus",
        type=float,
        default=Limits.cpus,
        metavar="N",
        help=f"CPU limit of a userspace stack or DHCP daemon (default {Limits.cpus:g})",
    )
    group.addoption(
        "--target-tests-only",
        action="store_true",
        help="run only the tests whose subject is a --target (the TCP and on-link suites), "
        "not the calculator's or the DHCP daemons' (netconform matrix uses it)",
    )
    group.addoption(
        "--verdicts",
        default=None,
        metavar="FILE",
        help="write every test's verdict (PASS, FAIL, WARN, INFO, UNSUPPORTED, ERROR) and "
        "its reason to FILE as JSON",
    )
    group.addoption(
        "--pcap-dir",
        default=str(DEFAULT_PCAP_DIR),
        metavar="DIR",
        help="where each test's capture is written (default reports/pcaps)",
    )


# --strict is pytest's own option (strict markers, xfail, ...); netconform reads it too:
# under --strict a broken SHOULD fails instead of passing with WARN.


def pytest_configure(config: pytest.Config) -> None:
    install_interrupt_handlers()
    if not hasattr(config, "workerinput"):  # xdist workers are children of a live run
        remove_dead_runs()
    config.pluginmanager.register(VerdictLog(), VERDICT_LOG)
    if config.getoption("repeat") < 1:
        raise pytest.UsageError("--repeat must be at least 1")
    if not 0 < config.getoption("start_timeout") <= 3600:
        raise pytest.UsageError("--start-timeout must be between 0 and 3600 seconds")
    target_limits(config)
    config.addinivalue_line(
        "markers",
        "rfc(rfc, section, req=None, level=None): the RFC requirement the test checks "
        "(req: an RFC 9293 Appendix B ID such as MUST-40; else level MUST/SHOULD/MAY)",
    )
    try:
        target_names(config.getoption("target") or [])
    except SetupError as exc:
        raise pytest.UsageError(str(exc)) from None
    sysctl_overrides(config)


def target_limits(config: pytest.Config) -> Limits:
    memory, cpus = config.getoption("target_memory"), config.getoption("target_cpus")
    if not 16 <= memory <= 1 << 20:
        raise pytest.UsageError("--target-memory must be between 16 and 1048576 MB")
    if not (math.isfinite(cpus) and 0.05 <= cpus <= 1024):
        raise pytest.UsageError("--target-cpus must be between 0.05 and 1024")
    return Limits(memory, cpus)


def sysctl_overrides(config: pytest.Config) -> dict[str, str]:
    """--sysctl NAME=VALUE options, checked: only net.* names, no path tricks."""
    pinned = {}
    for item in config.getoption("sysctl"):
        name, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"net(\.[A-Za-z0-9_-]+)+", name) or not value.strip():
            raise pytest.UsageError(
                f"--sysctl {item!r}: give NAME=VALUE with a net.* name, e.g. net.ipv4.tcp_ecn=1"
            )
        pinned[name] = value.strip()
    return pinned


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A malformed rfc marker is a collection error, not a silently unlabelled test. With
    --target-tests-only, tests that do not exercise a --target are deselected."""
    if config.getoption("target_tests_only"):
        about = {id(i) for i in items if "target" in getattr(i, "fixturenames", ())}
        kept = [item for item in items if id(item) in about]
        deselected = [item for item in items if id(item) not in about]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = kept
    for item in items:
        for mark in item.iter_markers("rfc"):
            try:
                catalogue.requirement(mark.args, dict(mark.kwargs))
            except ValueError as exc:
                raise pytest.UsageError(f"{item.nodeid}: bad rfc marker: {exc}") from None


def requirement_of(item: pytest.Item) -> Requirement | None:
    mark = item.get_closest_marker("rfc")
    return None if mark is None else catalogue.requirement(mark.args, dict(mark.kwargs))


def _targets(config: pytest.Config) -> list[str]:
    return config.getoption("target") or list(BUILT_IN)


def _named_targets(config: pytest.Config) -> list[tuple[str, str]]:
    specs = _targets(config)
    return list(zip(target_names(specs), specs, strict=True))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    repeat = metafunc.config.getoption("repeat")
    if repeat > 1 and metafunc.definition.get_closest_marker("rfc") is not None:
        metafunc.parametrize("netconform_run", range(1, repeat + 1), ids=lambda i: f"run{i}")
    if "target" in metafunc.fixturenames:
        targets = _targets(metafunc.config)
        ids = target_names(targets)
        metafunc.parametrize("target", targets, indirect=True, scope="session", ids=ids)


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Iterator[TestBed]:
    """The target named by the test's parameter, started on a topology of its own."""
    require_runtime()
    bed = TestBed(
        request.param,
        profile=request.config.getoption("profile"),
        sysctls=sysctl_overrides(request.config),
        start_timeout=request.config.getoption("start_timeout"),
        limits=target_limits(request.config),
    )
    try:
        yield bed
    finally:
        bed.close()


@pytest.fixture(autouse=True)
def netconform_run(request: pytest.FixtureRequest) -> int:
    """Which repetition this is under --repeat (1 otherwise)."""
    return int(getattr(request, "param", 1))


@pytest.fixture(scope="session")
def tolerance(pytestconfig: pytest.Config) -> Tolerance:
    return Tolerance(
        pytestconfig.getoption("timing_floor") / 1000.0, pytestconfig.getoption("timing_pct")
    )


CASE_KEY = pytest.StashKey[TcpCase]()
VERDICT_LOG = "netconform_verdict_log"


@pytest.fixture
def tcp(request: pytest.FixtureRequest, target: TestBed, tolerance: Tolerance) -> Iterator[TcpCase]:
    """One test's TCP context. Its capture and control transcript are attached to the
    test when its body ends (see pytest_runtest_call); teardown resets what is left."""
    target.ensure_alive()
    case = TcpCase(target, profile=request.config.getoption("profile"), tolerance=tolerance)
    request.node.stash[CASE_KEY] = case
    try:
        yield case
    finally:
        case.finish()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    """Attach the evidence inside the test's own Allure result, pass or fail."""
    failure: BaseException | None = None
    try:
        return (yield)
    except BaseException as exc:
        failure = exc
        raise
    finally:
        case = item.stash.get(CASE_KEY, None)
        if case is not None:
            allure_report.safely("evidence", lambda: _attach_case(item, case))
        if isinstance(failure, ConformanceFailure):
            _attach_expected_vs_actual(item, failure)


def _attach_case(item: pytest.Item, case: TcpCase) -> None:
    frames, transcript = case.evidence()
    pcap_dir = Path(item.config.getoption("pcap_dir"))
    allure_report.attach_evidence(item.nodeid, frames, transcript, pcap_dir)
    for index, conn in enumerate(case.connections, start=1):
        segments = conn.peer.conversation(frames)
        name = f"connection {index}" if len(case.connections) > 1 else "connection"
        allure_report.attach_svg(
            f"ladder ({name})", ladder_svg(segments, conn.peer.notes, item.name)
        )
        if sum(1 for seg in segments if seg.length) >= TIME_SEQUENCE_MIN_SEGMENTS:
            allure_report.attach_svg(f"time-sequence ({name})", time_sequence_svg(segments))
    if case.measurements:
        allure_report.attach_text("measured", "\n".join(case.measurements))
    info = [line for conn in case.connections for line in conn.peer.info]
    if info:
        record_info(item, "\n".join(info))
    link = case.bed.link
    if link.overflow or link.flood_rate:
        flood = f"; a flood of {link.flood_rate} frames/s" if link.flood_rate else ""
        allure_report.attach_text(
            "capture", f"{link.overflow} frames counted but not kept (the per-test cap){flood}"
        )
    allure_report.attach_environment(case.bed.environment())


def _attach_expected_vs_actual(item: pytest.Item, failure: ConformanceFailure) -> None:
    req = requirement_of(item)
    rule = (
        " ".join((getattr(item, "obj", None).__doc__ or "").split()) if hasattr(item, "obj") else ""
    )
    lines = [f"requirement: {req.title if req else '(none)'}"]
    if req:
        lines.append(f"level: {req.level} ({req.basis})")
        if req.summary:
            lines.append(f"in our words: {req.summary}")
        lines.append(f"RFC text: {req.url}")
    if rule:
        lines.append(f"rule: {rule}")
    lines += ["", str(failure)]
    allure_report.attach_text("expected vs actual", "\n".join(lines))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Labels before any fixture runs, so that a test whose set-up fails keeps them."""
    req = requirement_of(item)
    if req is not None:
        allure_report.label_test(req, Path(str(item.path)).parent.name.upper())
        item.user_properties.append((REQUIREMENT_KEY, req.key))
        item.user_properties.append((SUMMARY_KEY, req.summary))


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, Any, Any]:
    """Map exceptions to verdicts: a broken SHOULD is WARN (a pass) unless --strict; a
    missing target operation is UNSUPPORTED (a skip with the reason); a subject the RFC lets
    be absent is INFO. A scenario that was not reached (ScenarioNotReached) is a harness
    error and stays one: ERROR, whatever the requirement's level; so is a flood from the
    target, which voids whatever the test concluded."""
    try:
        outcome = yield
    except NotObserved as exc:
        _check_flood(pyfuncitem)
        pyfuncitem.user_properties.append((VERDICT_KEY, "INFO"))
        pyfuncitem.user_properties.append((MESSAGE_KEY, str(exc)))
        record_info(pyfuncitem, f"INFO: {exc}")
        return True
    except ConformanceFailure as exc:
        _check_flood(pyfuncitem)
        return _deviation(pyfuncitem, exc)
    except Unsupported as exc:
        pyfuncitem.user_properties.append((VERDICT_KEY, "UNSUPPORTED"))
        pytest.skip(f"UNSUPPORTED: {exc}")
    _check_flood(pyfuncitem)
    return outcome


def _check_flood(item: pytest.Item) -> None:
    """A flood from the target, or a target stopped at its memory limit, voids the verdict:
    both are ERRORs that say so."""
    case = item.stash.get(CASE_KEY, None)
    if case is None:
        return
    case.bed.link.drain()
    case.bed.link.check_flood()
    cgroup = getattr(case.bed.target, "cgroup", None)
    reason = cgroup.exit_reason() if cgroup is not None else ""
    if reason:
        raise TargetError(f"target {case.bed.target.name} {reason}; the verdict could not be made")


def _deviation(item: pytest.Item, exc: ConformanceFailure) -> bool:
    """FAIL (raised again), WARN or INFO for a deviation, by the requirement's level."""
    req = requirement_of(item)
    item.user_properties.append((MESSAGE_KEY, str(exc)))
    must = getattr(exc, "level", None) == "MUST"  # a failure that is a MUST whatever the test
    if req is not None and req.level == "MAY" and not must:
        # An optional behaviour the target does not have: recorded, never a deviation.
        item.user_properties.append((VERDICT_KEY, "INFO"))
        record_info(item, f"INFO ({req.title} is optional): {exc}")
        return True
    if req is None or must or req.strict or item.config.getoption("strict"):
        item.user_properties.append((VERDICT_KEY, "FAIL"))
        raise exc
    _record_warn(item, req, exc)
    return True


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: Any, request: pytest.FixtureRequest
) -> Generator[None, Any, Any]:
    try:
        return (yield)
    except Unsupported as exc:
        pytest.skip(f"UNSUPPORTED: {exc}")
    except SetupError as exc:
        pytest.exit(f"netconform: {exc}", returncode=4)


def record_info(item: pytest.Item, text: str) -> None:
    """INFO: recorded behaviour, a pass with a note (in the report and the terminal)."""
    allure_report.mark_info(text)
    item.user_properties.append(("netconform_info", text))


def _record_warn(item: pytest.Item, req: Requirement, exc: ConformanceFailure) -> None:
    message = f"WARN ({req.title}, a {req.level}; {req.basis}): {exc}"
    item.user_properties.append((VERDICT_KEY, "WARN"))
    item.user_properties.append(("netconform_warning", message))
    import allure

    allure.dynamic.tag("WARN")
    allure.dynamic.description(message)
    allure_report.attach_text("verdict: WARN", message)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Generator[None, Any, None]:
    """After allure-pytest has judged the test: give a WARN a status message, so that
    Allure's WARN category (categories.json) can match it."""
    yield
    message = dict(item.user_properties).get("netconform_warning")
    if call.when == "call" and message:
        allure_report.mark_warn(item, str(message))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Allure categories and the run's environment, beside the results (controller only)."""
    controller = not hasattr(session.config, "workerinput")
    verdicts = session.config.getoption("verdicts")
    log = session.config.pluginmanager.get_plugin(VERDICT_LOG)
    if verdicts and controller and isinstance(log, VerdictLog):
        log.write(Path(verdicts))
    results = session.config.getoption("allure_report_dir", None)
    if results and controller:
        allure_report.write_categories(Path(results))
        allure_report.write_environment(Path(results), run_environment(session.config))


def run_environment(config: pytest.Config) -> dict[str, str]:
    # Keys become Java-style properties: no spaces, colons or equals signs in them.
    env = {
        "kernel": os.uname().release,
        "python": sys.version.split()[0],
        "targets": ", ".join(f"{n} ({s})" if n != s else n for n, s in _named_targets(config)),
        "dhcp.servers": ", ".join(config.getoption("dhcp_server", None) or DHCP_SERVERS),
        "dhcp.clients": ", ".join(config.getoption("dhcp_client", None) or DHCP_CLIENTS),
        "profile": str(config.getoption("profile")),
        "strict": str(bool(config.getoption("strict"))),
        "timing.tolerance": f"max({config.getoption('timing_floor')} ms, "
        f"{config.getoption('timing_pct')} %)",
    }
    pinned = {**TARGET_SYSCTLS, **sysctl_overrides(config)}
    env.update({f"linux.sysctl.{k}": v for k, v in pinned.items()})
    return env


def pytest_terminal_summary(terminalreporter: Any) -> None:
    warnings = []
    for report in terminalreporter.stats.get("passed", []):
        props = dict(report.user_properties)
        if props.get(VERDICT_KEY) == "WARN":
            warnings.append(f"{report.nodeid}\n    {props.get('netconform_warning')}")
    if warnings:
        terminalreporter.section("netconform: SHOULD-level deviations (WARN)")
        for line in warnings:
            terminalreporter.write_line(line)
    info = [
        f"{r.nodeid}\n    {dict(r.user_properties)['netconform_info']}"
        for r in terminalreporter.stats.get("passed", [])
        if "netconform_info" in dict(r.user_properties)
    ]
    if info:
        terminalreporter.section("netconform: allowed behaviour the profile did not predict (INFO)")
        for line in info:
            terminalreporter.write_line(line)
