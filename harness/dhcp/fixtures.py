"""The DHCP half of the netconform pytest plugin: target options, test beds, evidence, and
how real daemons' failures count.

Every DHCP suite test runs against every selected server (``dhcp_server`` fixture) or client
(``dhcp_client``). Real daemons (dnsmasq, Kea, ISC dhcpd, dhclient, udhcpc, dhcpcd) are
implementations under observation: where one deviates from the RFC its test FAILs (or WARNs)
in the report with the packets, and by default (``--daemon-failures=record``) such FAILs do
not change the run's exit status, so that a run gates on the reference and on the user's
own targets. ``--daemon-failures=fail`` makes them count like any other failure.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from harness.core.cgroups import Limits
from harness.core.doctor import require_runtime
from harness.core.errors import SetupError
from harness.core.verdicts import VERDICT_KEY
from harness.dhcp.case import ClientCase, DhcpCase, DhcpClientBed, DhcpServerBed, ServerCase
from harness.dhcp.daemons import DAEMONS, check_binary
from harness.dhcp.recorded import Recorder, RecordingView
from harness.hosts.spec import DHCP_CLIENTS, DHCP_SERVERS
from harness.plugin import target_limits
from harness.report import allure_report
from harness.report.ladder import message_ladder_svg

CASE_KEY = pytest.StashKey[DhcpCase]()
RECORDED_KEY = pytest.StashKey[RecordingView]()
TARGET_PROPERTY = "netconform_dhcp_target"
B = TypeVar("B", DhcpServerBed, DhcpClientBed)
# Failed tests' node IDs this session: daemons' FAIL verdicts, and everything else.
_RECORDED: list[str] = []
_GATING: list[str] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("netconform", "protocol conformance (netconform)")
    group.addoption(
        "--dhcp-server",
        action="append",
        default=None,
        choices=DHCP_SERVERS,
        metavar="SERVER",
        help=f"DHCP server to test, repeatable: {', '.join(DHCP_SERVERS)} (default: all)",
    )
    group.addoption(
        "--dhcp-client",
        action="append",
        default=None,
        choices=DHCP_CLIENTS,
        metavar="CLIENT",
        help=f"DHCP client to test, repeatable: {', '.join(DHCP_CLIENTS)} (default: all)",
    )
    group.addoption(
        "--daemon-failures",
        choices=("record", "fail"),
        default="record",
        help="record (default): a real DHCP daemon's FAIL is reported but does not change the "
        "exit status; fail: it does",
    )


def servers(config: pytest.Config) -> list[str]:
    return config.getoption("dhcp_server") or list(DHCP_SERVERS)


def clients(config: pytest.Config) -> list[str]:
    return config.getoption("dhcp_client") or list(DHCP_CLIENTS)


def pytest_configure(config: pytest.Config) -> None:
    _RECORDED.clear()
    _GATING.clear()
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


def _bed_name(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    params = callspec.params
    name = (
        params.get("dhcp_server_bed")
        or params.get("dhcp_client_bed")
        or params.get("recorded_client")
    )
    return str(name) if name else None


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
        _checked(client)
    recorder = Recorder(target_limits(request.config))
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
    request.node.stash[RECORDED_KEY] = view
    return view


def pytest_runtest_setup(item: pytest.Item) -> None:
    name = _bed_name(item)
    if name is not None:
        item.user_properties.append((TARGET_PROPERTY, name))


def _checked(name: str) -> None:
    require_runtime()
    try:
        check_binary(name)
    except SetupError as exc:
        pytest.fail(f"ERROR: {exc}", pytrace=False)


def _session_bed(request: pytest.FixtureRequest, make: Callable[[str, Limits], B]) -> Iterator[B]:
    _checked(request.param)
    bed = make(request.param, target_limits(request.config))
    try:
        yield bed
    finally:
        bed.close()


@pytest.fixture(scope="session")
def dhcp_server_bed(request: pytest.FixtureRequest) -> Iterator[DhcpServerBed]:
    yield from _session_bed(request, DhcpServerBed)


@pytest.fixture(scope="session")
def dhcp_client_bed(request: pytest.FixtureRequest) -> Iterator[DhcpClientBed]:
    yield from _session_bed(request, DhcpClientBed)


@pytest.fixture
def dhcp_server(request: pytest.FixtureRequest, dhcp_server_bed: DhcpServerBed) -> ServerCase:
    """One test against a DHCP server target: ``case.clients`` makes up clients."""
    dhcp_server_bed.ensure_alive()
    case = ServerCase(dhcp_server_bed.link, dhcp_server_bed.target, bed=dhcp_server_bed)
    request.node.stash[CASE_KEY] = case
    return case


@pytest.fixture
def dhcp_client(
    request: pytest.FixtureRequest, dhcp_client_bed: DhcpClientBed, dhcp_recorder: Recorder
) -> Iterator[ClientCase]:
    """One test against a DHCP client target: ``case.start()`` starts the client;
    ``case.server`` answers it."""
    case = ClientCase(dhcp_client_bed.link, dhcp_client_bed.target, bed=dhcp_client_bed)
    request.node.stash[CASE_KEY] = case
    try:
        yield case
    finally:
        case.finish()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    try:
        return (yield)
    finally:
        case = item.stash.get(CASE_KEY, None)
        if case is not None:
            allure_report.safely("evidence", lambda: attach_dhcp_evidence(item, case))
        recorded = item.stash.get(RECORDED_KEY, None)
        if recorded is not None:
            allure_report.safely("evidence", lambda: attach_recorded_evidence(item, recorded))


def attach_dhcp_evidence(item: pytest.Item, case: DhcpCase) -> None:
    frames = case.evidence()
    peer = case.peer
    pcap_dir = Path(item.config.getoption("pcap_dir"))
    allure_report.attach_evidence(
        item.nodeid, frames, peer.transcript(), pcap_dir, transcript_name="DHCP messages"
    )
    rows = [(seen.ts_ns, seen.from_tester, seen.packet.short()) for seen in peer.exchanged]
    if rows:
        allure_report.attach_svg("ladder (DHCP)", message_ladder_svg(rows, item.name))
    allure_report.attach_text(f"{case.target.name} log", case.daemon_log())
    if isinstance(case, ClientCase):
        allure_report.attach_text("client hook events", "\n".join(case.client.events()) or "(none)")
    if case.measurements:
        allure_report.attach_text("measured", "\n".join(case.measurements))
    allure_report.attach_environment(case.target.environment())


def attach_recorded_evidence(item: pytest.Item, evidence: RecordingView) -> None:
    rec = evidence.recording
    pcap_dir = Path(item.config.getoption("pcap_dir"))
    peer = rec.case.peer
    allure_report.attach_evidence(
        item.nodeid, rec.frames, peer.transcript(), pcap_dir, transcript_name="DHCP messages"
    )
    rows = [(seen.ts_ns, seen.from_tester, seen.packet.short()) for seen in peer.exchanged]
    if rows:
        allure_report.attach_svg("ladder (DHCP)", message_ladder_svg(rows, item.name))
    allure_report.attach_text(f"{rec.client} log ({rec.scenario} scenario)", rec.log or "(none)")
    allure_report.attach_text("client hook events", "\n".join(rec.events) or "(none)")
    if evidence.measurements:
        allure_report.attach_text("measured", "\n".join(evidence.measurements))
    allure_report.attach_environment(rec.case.target.environment())


# -- how daemons' failures count -----------------------------------------------------------


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not report.failed:
        return
    props = dict(report.user_properties)
    name = props.get(TARGET_PROPERTY)
    daemon_fail = report.when == "call" and name in DAEMONS and props.get(VERDICT_KEY) == "FAIL"
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
