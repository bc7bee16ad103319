"""The DHCP fixtures: target options, test beds, cases, the recorded scenarios, and how real
daemons' failures count.

Every DHCP suite test runs against every selected server (``dhcp_server`` fixture) or client
(``dhcp_client``). Real daemons (dnsmasq, Kea, ISC dhcpd, dhclient, udhcpc, dhcpcd) are
implementations under observation: where one deviates from the RFC its test FAILs (or WARNs)
in the report with the packets, and by default (``--daemon-failures=record``) such FAILs do
not change the run's exit status, so that a run gates on the reference and on the user's
own targets. ``--daemon-failures=fail`` makes them count like any other failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from harness.core import config as run_config
from harness.core import registry
from harness.core.case import for_the_test, register_case
from harness.core.cgroups import Limits
from harness.core.doctor import require_runtime
from harness.core.errors import SetupError
from harness.core.registry import DHCP_CLIENT, DHCP_SERVER
from harness.core.verdicts import VERDICT_KEY
from harness.dhcp.case import ClientCase, DhcpClientBed, DhcpServerBed, ServerCase
from harness.dhcp.recorded import Recorder, RecordingView

THIRD_PARTY_PROPERTY = "netconform_third_party"  # the test's target is a real daemon
B = TypeVar("B", DhcpServerBed, DhcpClientBed)
# Failed tests' node IDs this session: daemons' FAIL verdicts, and everything else.
_RECORDED: list[str] = []
_GATING: list[str] = []
SERVERS = registry.names(DHCP_SERVER)
CLIENTS = registry.names(DHCP_CLIENT)


OPTIONS: list[tuple[str, dict[str, Any]]] = [
    (
        "--dhcp-server",
        dict(
            action="append",
            default=None,
            choices=SERVERS,
            metavar="SERVER",
            help=f"DHCP server to test, repeatable: {', '.join(SERVERS)} (default: all)",
        ),
    ),
    (
        "--dhcp-client",
        dict(
            action="append",
            default=None,
            choices=CLIENTS,
            metavar="CLIENT",
            help=f"DHCP client to test, repeatable: {', '.join(CLIENTS)} (default: all)",
        ),
    ),
    (
        "--daemon-failures",
        dict(
            choices=("record", "fail"),
            default="record",
            help="record (default): a real DHCP daemon's FAIL is reported but does not change the "
            "exit status; fail: it does",
        ),
    ),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    run_config.add_options(parser, OPTIONS)


def servers(config: pytest.Config) -> list[str]:
    return config.getoption("dhcp_server") or list(SERVERS)


def clients(config: pytest.Config) -> list[str]:
    return config.getoption("dhcp_client") or list(CLIENTS)


def pytest_configure(config: pytest.Config) -> None:
    _RECORDED.clear()
    _GATING.clear()
    run_config.add_environment(
        config,
        {"dhcp.servers": ", ".join(servers(config)), "dhcp.clients": ", ".join(clients(config))},
    )
    config.addinivalue_line(
        "markers",
        "recorded(scenario): the test judges a long DHCP client scenario recorded in the "
        "background (harness.dhcp.recorded); it takes the `recording` fixture",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for fixture, names in (
        ("dhcp_server_bed", servers(metafunc.config)),
        ("dhcp_client_bed", clients(metafunc.config)),
    ):
        if fixture in metafunc.fixturenames:
            metafunc.parametrize(fixture, names, indirect=True, scope="session", ids=names)
    if "recorded_client" in metafunc.fixturenames:
        names = clients(metafunc.config)
        metafunc.parametrize("recorded_client", names, ids=names)


def _target_kind(item: pytest.Item) -> registry.TargetKind | None:
    """The DHCP target a test is about, from its parameters."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "dhcp_server_bed" in params:
        return registry.kind(DHCP_SERVER, str(params["dhcp_server_bed"]))
    for key in ("dhcp_client_bed", "recorded_client"):
        if key in params:
            return registry.kind(DHCP_CLIENT, str(params[key]))
    return None


def _recorded_pairs(items: list[pytest.Item]) -> set[tuple[str, str]]:
    """(scenario, client) for every test of the session that judges a recording."""
    pairs = set()
    for item in items:
        mark = item.get_closest_marker("recorded")
        callspec = getattr(item, "callspec", None)
        client = callspec.params.get("recorded_client") if callspec is not None else None
        if mark is not None and client:
            pairs.add((str(mark.args[0]), str(client)))
    return pairs


@pytest.fixture(scope="session")
def dhcp_recorder(request: pytest.FixtureRequest) -> Iterator[Recorder]:
    """Starts, at the session's first DHCP client test, every recorded scenario its tests
    need, for every client, side by side in the background."""
    pairs = _recorded_pairs(request.session.items)
    for _scenario, client in pairs:
        _checked(registry.kind(DHCP_CLIENT, client))
    recorder = Recorder(run_config.limits(request.config))
    try:
        recorder.start(pairs)
        yield recorder
    finally:
        recorder.close()


@pytest.fixture
def recording(
    request: pytest.FixtureRequest, dhcp_recorder: Recorder, recorded_client: str
) -> RecordingView:
    """The recording of the test's ``recorded`` scenario for its client."""
    mark = request.node.get_closest_marker("recorded")
    if mark is None:
        raise SetupError(f"{request.node.nodeid} takes `recording` without a recorded marker")
    view = RecordingView(dhcp_recorder.get(str(mark.args[0]), recorded_client))
    view.tolerance = run_config.tolerance(request.config)
    register_case(request.node, view)
    return view


def pytest_runtest_setup(item: pytest.Item) -> None:
    kind = _target_kind(item)
    if kind is not None and kind.third_party:
        item.user_properties.append((THIRD_PARTY_PROPERTY, kind.name))


def _checked(kind: registry.TargetKind) -> None:
    """A daemon that is not installed makes its tests ERRORs, not the whole run's end."""
    require_runtime()
    try:
        kind.check_installed()
    except SetupError as exc:
        pytest.fail(f"ERROR: {exc}", pytrace=False)


def _session_bed(
    request: pytest.FixtureRequest, role: str, make: Callable[[str, Limits], B]
) -> Iterator[B]:
    _checked(registry.kind(role, request.param))
    bed = make(request.param, run_config.limits(request.config))
    try:
        yield bed
    finally:
        bed.close()


@pytest.fixture(scope="session")
def dhcp_server_bed(request: pytest.FixtureRequest) -> Iterator[DhcpServerBed]:
    yield from _session_bed(request, DHCP_SERVER, DhcpServerBed)


@pytest.fixture(scope="session")
def dhcp_client_bed(request: pytest.FixtureRequest) -> Iterator[DhcpClientBed]:
    yield from _session_bed(request, DHCP_CLIENT, DhcpClientBed)


@pytest.fixture
def dhcp_server(
    request: pytest.FixtureRequest, dhcp_server_bed: DhcpServerBed
) -> Iterator[ServerCase]:
    """One test against a DHCP server target: ``case.clients`` makes up clients."""
    dhcp_server_bed.ensure_alive()
    yield from for_the_test(request, ServerCase(dhcp_server_bed))


@pytest.fixture
def dhcp_client(
    request: pytest.FixtureRequest, dhcp_client_bed: DhcpClientBed, dhcp_recorder: Recorder
) -> Iterator[ClientCase]:
    """One test against a DHCP client target: ``case.start()`` starts the client;
    ``case.server`` answers it."""
    yield from for_the_test(request, ClientCase(dhcp_client_bed))


# -- how daemons' failures count -----------------------------------------------------------


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not report.failed:
        return
    props = dict(report.user_properties)
    third_party = THIRD_PARTY_PROPERTY in props
    daemon_fail = report.when == "call" and third_party and props.get(VERDICT_KEY) == "FAIL"
    (_RECORDED if daemon_fail else _GATING).append(report.nodeid)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under --daemon-failures=record, a run whose only failures are daemons' FAIL
    verdicts exits 0 (the report still shows every one of them)."""
    record = session.config.getoption("daemon_failures") == "record"
    failed = session.exitstatus == pytest.ExitCode.TESTS_FAILED
    if record and failed and _RECORDED and not _GATING:
        session.exitstatus = pytest.ExitCode.OK


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _RECORDED:
        return
    fail = terminalreporter.config.getoption("daemon_failures") == "fail"
    counts = "they fail the run" if fail else "recorded, not counted in the exit status"
    terminalreporter.section(f"netconform: DHCP daemons' deviations (FAIL; {counts})")
    for nodeid in _RECORDED:
        terminalreporter.write_line(nodeid)
