"""The DHCP fixtures: target options, test beds, cases and the recorded scenarios.

Every DHCP suite test runs against every selected server (``dhcp_server`` fixture) or client
(``dhcp_client``). Real daemons (dnsmasq, Kea, ISC dhcpd, dhclient, udhcpc, dhcpcd) are
implementations under observation: where one deviates from the RFC its test FAILs (or WARNs)
in the report with the packets; the deviations found on Debian 12 are in ``baseline.toml``
beside this file, which every run reads, so that a run fails on a new deviation only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from harness.core import config as run_config
from harness.core import registry
from harness.core.bedpool import BedPool
from harness.core.case import for_the_test, register_case
from harness.core.cgroups import Limits
from harness.core.doctor import require_runtime
from harness.core.errors import SetupError
from harness.core.registry import DHCP_CLIENT, DHCP_SERVER
from harness.core.schedule import in_parallel_run
from harness.dhcp.case import ClientCase, DhcpClientBed, DhcpServerBed, ServerCase
from harness.dhcp.recorded import Recorder, RecordingView

B = TypeVar("B", DhcpServerBed, DhcpClientBed)
SERVERS = registry.names(DHCP_SERVER)
CLIENTS = registry.names(DHCP_CLIENT)


OPTIONS: list[tuple[str, dict[str, Any]]] = [
    (
        "--dhcp-server",
        dict(
            action="append",
            default=None,
            metavar="SERVER",
            help=f"DHCP server to test, repeatable: {', '.join(SERVERS)} (default: all)",
        ),
    ),
    (
        "--dhcp-client",
        dict(
            action="append",
            default=None,
            metavar="CLIENT",
            help=f"DHCP client to test, repeatable: {', '.join(CLIENTS)} (default: all)",
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
    for option, known in (("dhcp_server", SERVERS), ("dhcp_client", CLIENTS)):
        unknown = sorted(set(config.getoption(option) or ()) - set(known))
        if unknown:
            flag = "--" + option.replace("_", "-")
            run_config.usage_error(
                f"{flag} {', '.join(unknown)}: unknown; choose from {', '.join(known)}"
            )
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
            metafunc.parametrize(fixture, names, indirect=True, ids=names)
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
    recorder = Recorder(run_config.limits(request.config), run_config.tolerance(request.config))
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
    if kind is not None:
        version = registry.package_version(kind.package) if kind.package else "netconform"
        run_config.tag_target(item, kind.name, version)


def _checked(kind: registry.TargetKind) -> None:
    """A daemon that is not installed makes its tests ERRORs, not the whole run's end."""
    require_runtime()
    try:
        kind.check_installed()
    except SetupError as exc:
        pytest.fail(f"ERROR: {exc}", pytrace=False)


def _pooled_bed(
    request: pytest.FixtureRequest, pool: BedPool, role: str, make: Callable[[str, Limits], B]
) -> B:
    """The session's bed for the test's server or client (harness.core.bedpool)."""

    def made() -> B:
        _checked(registry.kind(role, request.param))
        return make(request.param, run_config.limits(request.config))

    return pool.get((role, request.param), made)


@pytest.fixture
def dhcp_server_bed(request: pytest.FixtureRequest, bed_pool: BedPool) -> DhcpServerBed:
    return _pooled_bed(request, bed_pool, DHCP_SERVER, DhcpServerBed)


@pytest.fixture
def dhcp_client_bed(request: pytest.FixtureRequest, bed_pool: BedPool) -> DhcpClientBed:
    return _pooled_bed(request, bed_pool, DHCP_CLIENT, DhcpClientBed)


@pytest.fixture
def dhcp_server(
    request: pytest.FixtureRequest, dhcp_server_bed: DhcpServerBed
) -> Iterator[ServerCase]:
    """One test against a DHCP server target: ``case.clients`` makes up clients."""
    dhcp_server_bed.ensure_alive()
    tolerance = run_config.tolerance(request.config)
    yield from for_the_test(request, ServerCase(dhcp_server_bed, tolerance))


@pytest.fixture
def dhcp_client(
    request: pytest.FixtureRequest, dhcp_client_bed: DhcpClientBed
) -> Iterator[ClientCase]:
    """One test against a DHCP client target: ``case.start()`` starts the client;
    ``case.server`` answers it."""
    if not in_parallel_run(request.config):
        # A serial run starts the recordings here, to wait beside the other client tests; a
        # parallel one gives them a worker of their own (harness.core.schedule).
        request.getfixturevalue("dhcp_recorder")
    tolerance = run_config.tolerance(request.config)
    yield from for_the_test(request, ClientCase(dhcp_client_bed, tolerance))
