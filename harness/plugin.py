"""The netconform pytest plugin: the part every protocol shares.

It declares the run's options, the ``rfc`` marker and the ``tolerance`` fixture; maps what a
test raised to its verdict (harness.core.verdicts); attaches the evidence of every case a test
registered (harness.core.case.CASES_KEY), pass or fail; writes the verdicts, Allure's
categories and the run's environment. Each protocol package brings its own fixtures in a
``fixtures`` module, which harness.protocols finds and this plugin registers.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import protocols
from harness.core import catalogue, schedule
from harness.core import config as run_config
from harness.core.bedpool import BedPool
from harness.core.case import CASES_KEY, EvidenceSource, raise_if_void
from harness.core.cgroups import Limits
from harness.core.errors import ConformanceFailure, NotObserved, SetupError, Unsupported
from harness.core.leftovers import remove_dead_runs
from harness.core.requirements import Requirement
from harness.core.signals import install_interrupt_handlers
from harness.core.tolerance import Tolerance
from harness.core.verdicts import (
    MESSAGE_KEY,
    REQUIREMENT_KEY,
    SUMMARY_KEY,
    VERDICT_KEY,
    VerdictLog,
    deviation_verdict,
    suite_assertion,
)
from harness.gate import Gate
from harness.long import LongScenarios
from harness.report import allure_report, decodes
from harness.stress import Stress, runs_of

VERDICT_LOG, GATE, STRESS = "netconform_verdict_log", "netconform_gate", "netconform_stress"
LONG = "netconform_long"
INFO_KEY, WARNING_KEY = "netconform_info", "netconform_warning"


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: workers for tests that mostly wait (harness.core.schedule), unless
    PYTEST_XDIST_AUTO_NUM_WORKERS says otherwise."""
    return None if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS") else schedule.auto_workers()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Register every protocol package's fixtures (harness.tcp.fixtures, ...)."""
    for module in protocols.fixture_modules():
        if not pluginmanager.has_plugin(module):
            pluginmanager.import_plugin(module)


OPTIONS: list[tuple[str, dict[str, Any]]] = [
    (
        "--repeat",
        dict(
            type=int,
            default=1,
            metavar="N",
            help="run every suite test N times (run1..runN); one bad run is a failure, with that "
            "run's own packets as evidence",
        ),
    ),
    (
        "--stress",
        dict(
            type=int,
            default=0,
            metavar="N",
            help="stress mode: only the scenarios marked stress (closes that race a write, an "
            "unacknowledged flight, a zero window, the peer's FIN), N times each, with a "
            "k-of-N summary per scenario",
        ),
    ),
    (
        "--long",
        dict(
            action="store_true",
            help="also run the long scenarios (marked long; minutes each: retransmissions "
            "given up after R2, a connection attempt kept up for 3 minutes)",
        ),
    ),
    (
        "--timing-floor",
        dict(
            type=float,
            default=20.0,
            metavar="MS",
            help="smallest widening of any RFC time window, in ms (default 20)",
        ),
    ),
    (
        "--timing-pct",
        dict(
            type=float,
            default=10.0,
            metavar="PCT",
            help="widening of an RFC time window as a percentage of it (default 10)",
        ),
    ),
    (
        "--target-memory",
        dict(
            type=int,
            default=Limits.memory_mb,
            metavar="MB",
            help="memory limit of a userspace stack or DHCP daemon, in its own cgroup "
            f"(default {Limits.memory_mb}); a target that hits it is an ERROR saying so",
        ),
    ),
    (
        "--target-cpus",
        dict(
            type=float,
            default=Limits.cpus,
            metavar="N",
            help=f"CPU limit of a userspace stack or DHCP daemon (default {Limits.cpus:g})",
        ),
    ),
    (
        "--verdicts",
        dict(
            default=None,
            metavar="FILE",
            help="write every test's verdict (PASS, FAIL, WARN, INFO, UNSUPPORTED, ERROR) and "
            "its reason to FILE as JSON",
        ),
    ),
    (
        "--decodes",
        dict(
            choices=("all", "deviations", "none"),
            default="all",
            help="which tests' captures get Wireshark's decode (tshark, about 0.2 s of CPU "
            "each) in the report: all (default), deviations (tests that did not pass: what a "
            "reader opens; netconform matrix uses it), none. Every test keeps its pcap and "
            "packet list",
        ),
    ),
    (
        "--pcap-dir",
        dict(
            default=str(run_config.DEFAULT_PCAP_DIR),
            metavar="DIR",
            help="where each test's capture is written (default reports/pcaps)",
        ),
    ),
    (
        "--baseline",
        dict(
            action="append",
            default=[],
            metavar="FILE",
            help="known deviations (TOML), repeatable, beside the shipped ones: a deviation "
            "not in any baseline fails the run, and so does an entry that no longer holds",
        ),
    ),
    (
        "--baseline-only",
        dict(
            action="store_true",
            help="use only the --baseline files given, not the ones netconform ships",
        ),
    ),
    (
        "--update-baseline",
        dict(
            action="store_true",
            help="rewrite the one --baseline FILE with this run's deviations",
        ),
    ),
    (
        "--timing-scale",
        dict(
            type=float,
            default=None,
            metavar="X",
            help="multiply every time window and wait by X on a slow machine (default 1, or "
            f"${run_config.TIMING_SCALE_ENV}); shown in the report",
        ),
    ),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    run_config.add_options(parser, OPTIONS)
    parser.addini(
        schedule.DURATIONS_INI,
        type="paths",
        default=[],
        help="more files of seconds per test id that order a parallel run longest first "
        "(a project's own tests; the suites' are shipped)",
    )


# --strict is pytest's own option (strict markers, xfail, ...); netconform reads it too:
# under --strict a broken SHOULD fails instead of passing with WARN.


def pytest_configure(config: pytest.Config) -> None:
    install_interrupt_handlers()
    if not hasattr(config, "workerinput"):  # xdist workers are children of a live run
        remove_dead_runs()
    log = VerdictLog()
    config.pluginmanager.register(log, VERDICT_LOG)
    config.pluginmanager.register(Gate(config, log), GATE)
    config.pluginmanager.register(Stress(config, log), STRESS)
    config.pluginmanager.register(LongScenarios(config), LONG)
    config.pluginmanager.register(schedule.ParallelRun(config), "netconform-schedule")
    if config.getoption("repeat") < 1:
        run_config.usage_error("--repeat must be at least 1")
    _limits_checked(config)
    config.addinivalue_line(
        "markers",
        "rfc(rfc, section, req=None, level=None): the RFC requirement the test checks "
        "(req: an RFC 9293 Appendix B ID such as MUST-40; else level MUST/SHOULD/MAY)",
    )
    config.addinivalue_line(
        "markers", "stress: a scenario prone to races, repeated by --stress N (harness.stress)"
    )
    config.addinivalue_line(
        "markers", "long: a scenario that waits minutes by the RFC; run only with --long"
    )
    _add_run_environment(config)


def _limits_checked(config: pytest.Config) -> None:
    run_config.limits(config)
    run_config.timing_scale(config)


def _add_run_environment(config: pytest.Config) -> None:
    run_config.add_environment(
        config,
        {
            "kernel": os.uname().release,
            "python": sys.version.split()[0],
            "strict": str(bool(config.getoption("strict"))),
            "timing.tolerance": f"max({config.getoption('timing_floor')} ms, "
            f"{config.getoption('timing_pct')} %)",
            "timing.scale": f"{run_config.timing_scale(config):g}",
        },
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A malformed rfc marker is a collection error, not a silently unlabelled test."""
    for item in items:
        for mark in item.iter_markers("rfc"):
            try:
                catalogue.requirement(mark.args, dict(mark.kwargs))
            except ValueError as exc:
                run_config.usage_error(f"{item.nodeid}: bad rfc marker: {exc}")


def requirement_of(item: pytest.Item) -> Requirement | None:
    mark = item.get_closest_marker("rfc")
    return None if mark is None else catalogue.requirement(mark.args, dict(mark.kwargs))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    repeat = runs_of(metafunc.config, metafunc.definition)
    if repeat > 1 and metafunc.definition.get_closest_marker("rfc") is not None:
        metafunc.parametrize(run_config.REPETITION, range(1, repeat + 1), ids=lambda i: f"run{i}")


@pytest.fixture(autouse=True)
def netconform_run(request: pytest.FixtureRequest) -> int:
    """Which repetition this is under --repeat (1 otherwise)."""
    return int(getattr(request, "param", 1))


@pytest.fixture(scope="session")
def tolerance(pytestconfig: pytest.Config) -> Tolerance:
    return run_config.tolerance(pytestconfig)


@pytest.fixture(scope="session")
def bed_pool() -> Iterator[BedPool]:
    """Every bed of the session, one per target, closed at its end (harness.core.bedpool)."""
    pool = BedPool()
    try:
        yield pool
    finally:
        pool.close()


# -- labels, evidence and verdicts -----------------------------------------------------------


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Labels before any fixture runs, so that a test whose set-up fails keeps them."""
    req = requirement_of(item)
    if req is not None:
        allure_report.label_test(req, protocols.protocol_of(item))
        item.user_properties.append((REQUIREMENT_KEY, req.key))
        item.user_properties.append((SUMMARY_KEY, req.summary))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    """Attach the evidence of the test's cases inside its own Allure result, pass or fail."""
    failure: BaseException | None = None
    try:
        return (yield)
    except BaseException as exc:
        failure = exc
        raise
    finally:
        decode = _wants_decode(item, failure)
        for source in item.stash.get(CASES_KEY, []):
            allure_report.safely("evidence", functools.partial(_attach, item, source, decode))
        if isinstance(failure, ConformanceFailure):
            _attach_expected_vs_actual(item, failure)


def _wants_decode(item: pytest.Item, failure: BaseException | None) -> bool:
    """--decodes: all, none, or deviations: a FAIL or an ERROR (the test raised), a WARN or
    an INFO (recorded); not a PASS, nor an UNSUPPORTED (the stack lacked what the test
    needed: a skip, whose capture says nothing about the requirement)."""
    choice = item.config.getoption("decodes")
    if choice != "deviations":
        return bool(choice == "all")
    if isinstance(failure, pytest.skip.Exception):
        return False
    recorded = {value for key, value in item.user_properties if key == VERDICT_KEY}
    return failure is not None or bool(recorded - {"PASS", "UNSUPPORTED"})


def _attach(item: pytest.Item, source: EvidenceSource, decode: bool = True) -> None:
    found = source.evidence()
    allure_report.attach_evidence(
        item.nodeid,
        found.frames,
        found.transcript,
        run_config.pcap_dir(item.config),
        transcript_name=found.transcript_name,
        decode=decode,
    )
    for name, svg in found.pictures:
        allure_report.attach_svg(name, svg)
    for name, text in found.texts:
        allure_report.attach_text(name, text)
    if found.info:
        record_info(item, "\n".join(found.info))
    allure_report.attach_environment(found.environment)


def _attach_expected_vs_actual(item: pytest.Item, failure: ConformanceFailure) -> None:
    req = requirement_of(item)
    obj = getattr(item, "obj", None)
    rule = " ".join((getattr(obj, "__doc__", None) or "").split())
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


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, Any, Any]:
    """Map exceptions to verdicts: a deviation is FAIL, WARN or INFO by the requirement's
    level (a bare assert in the test's own module counts as one); a missing target
    operation is UNSUPPORTED (a skip with the reason); a subject the RFC lets be absent is
    INFO. A scenario that was not reached (ScenarioNotReached) is a harness error and stays
    one: ERROR, whatever the requirement's level; so is a flood from the target, which voids
    whatever the test concluded."""
    try:
        outcome = yield
    except NotObserved as exc:
        _raise_if_void(pyfuncitem)
        _record(pyfuncitem, "INFO", str(exc))
        record_info(pyfuncitem, f"INFO: {exc}")
        return True
    except AssertionError as exc:
        if not isinstance(exc, ConformanceFailure) and not suite_assertion(
            exc, str(pyfuncitem.path)
        ):
            raise  # an assert in the harness: a bug, an ERROR
        _raise_if_void(pyfuncitem)
        return _deviation(pyfuncitem, exc)
    except Unsupported as exc:
        pyfuncitem.user_properties.append((VERDICT_KEY, "UNSUPPORTED"))
        pytest.skip(f"UNSUPPORTED: {exc}")
    _raise_if_void(pyfuncitem)
    return outcome


def _raise_if_void(item: pytest.Item) -> None:
    for source in item.stash.get(CASES_KEY, []):
        raise_if_void(source)


def _record(item: pytest.Item, verdict: str, message: str) -> None:
    item.user_properties.append((VERDICT_KEY, verdict))
    item.user_properties.append((MESSAGE_KEY, message))


def _deviation(item: pytest.Item, exc: AssertionError) -> bool:
    """FAIL (raised again), WARN or INFO for a deviation, by the requirement's level."""
    req = requirement_of(item)
    strict = bool(item.config.getoption("strict"))
    level = None if req is None else req.level
    verdict = deviation_verdict(level, exc, strict=strict or (req is not None and req.strict))
    _record(item, verdict, str(exc))
    if verdict == "FAIL":
        raise exc
    assert req is not None  # WARN and INFO need a requirement's level
    if verdict == "INFO":  # an optional behaviour the target does not have
        record_info(item, f"INFO ({req.title} is optional): {exc}")
    else:
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
        run_config.usage_error(str(exc))


def record_info(item: pytest.Item, text: str) -> None:
    """INFO: recorded behaviour, a pass with a note (in the report and the terminal)."""
    allure_report.mark_info(text)
    item.user_properties.append((INFO_KEY, text))


def _record_warn(item: pytest.Item, req: Requirement, exc: AssertionError) -> None:
    message = f"WARN ({req.title}, a {req.level}; {req.basis}): {exc}"
    item.user_properties.append((WARNING_KEY, message))
    import allure

    allure.dynamic.tag("WARN")
    allure.dynamic.description(message)
    allure_report.attach_text("verdict: WARN", message)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Generator[None, Any, None]:
    """After allure-pytest has judged the test: give a WARN a status message, so that
    Allure's WARN category (categories.json) can match it."""
    yield
    message = dict(item.user_properties).get(WARNING_KEY)
    if call.when == "call" and message:
        allure_report.mark_warn(item, str(message))


# -- the end of the run ----------------------------------------------------------------------


def pytest_sessionstart(session: pytest.Session) -> None:
    results = session.config.getoption("allure_report_dir", None)
    if results:
        allure_report.start_decodes(Path(results))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The last tshark decodes; verdicts, Allure categories and the run's environment, beside
    the results (controller only)."""
    decodes.stop()
    controller = not hasattr(session.config, "workerinput")
    verdicts = session.config.getoption("verdicts")
    log = session.config.pluginmanager.get_plugin(VERDICT_LOG)
    if verdicts and controller and isinstance(log, VerdictLog):
        log.write(Path(verdicts))
    results = session.config.getoption("allure_report_dir", None)
    if results and controller:
        allure_report.write_categories(Path(results))
        allure_report.write_environment(Path(results), run_config.environment(session.config))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    passed = terminalreporter.stats.get("passed", [])
    warnings = [
        f"{r.nodeid}\n    {dict(r.user_properties).get(WARNING_KEY)}"
        for r in passed
        if dict(r.user_properties).get(VERDICT_KEY) == "WARN"
    ]
    info = [
        f"{r.nodeid}\n    {dict(r.user_properties)[INFO_KEY]}"
        for r in passed
        if INFO_KEY in dict(r.user_properties)
    ]
    sections = (
        ("netconform: SHOULD-level deviations (WARN)", warnings),
        ("netconform: allowed behaviour the profile did not predict (INFO)", info),
    )
    for title, lines in sections:
        if lines:
            terminalreporter.section(title)
            for line in lines:
                terminalreporter.write_line(line)
