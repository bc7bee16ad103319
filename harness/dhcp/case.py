"""DHCP test beds (one per target and session) and cases (one per test).

A server bed runs a DHCP server target in the target namespace and lets the harness play
its clients from the tester namespace; a client bed does the opposite, starting the client
target afresh for every test, with the harness as its server (the reference server, so the
client only ever sees correct replies unless a test changes them).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from harness.core.cgroups import Limits
from harness.core.errors import HarnessError, TargetError, precondition
from harness.core.link import Frame, Link
from harness.core.topology import TesterTarget, add_squatter, create_tester_target, remove_namespace
from harness.dhcp.daemons import (
    CLIENT_CLASSES,
    SERVER_CLASSES,
    DhcpClientTarget,
    DhcpDaemon,
    DhcpServerTarget,
    ServerPlan,
)
from harness.dhcp.peer import ClientsPeer, DhcpLink, ServerPeer
from reference_impl.dhcp.server import ServerConfig

START_WAIT_S = 10.0
T = TypeVar("T", bound=DhcpDaemon)
# Leases long enough that no client's own floors (udhcpc raises leases under 30 s) or
# retransmission intervals (dhclient retries every 7-22 s) decide a verdict, with explicit
# T1/T2 options: 45 s from T2 to the end of the lease leave room to rebind. The timer tests
# that wait for them run side by side in the background (harness.dhcp.recorded).
CLIENT_LEASE_S, CLIENT_T1_S, CLIENT_T2_S = 120, 30, 75


class _Bed(Generic[T]):
    """A topology, a DHCP target on it (not yet started) and the tester's link."""

    __test__ = False

    def __init__(
        self,
        name: str,
        topology: TesterTarget,
        make: Callable[[TesterTarget, Limits | None], T],
        limits: Limits | None = None,
    ) -> None:
        self.name = name
        self.topology = topology
        try:
            self.target: T = make(topology, limits)
            self.link = Link(topology.tester.netns, topology.tester.ifname)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        target = getattr(self, "target", None)
        if target is not None:
            target.close()
        link = getattr(self, "link", None)
        if link is not None:
            link.close()
        self.topology.teardown()


class DhcpServerBed(_Bed[DhcpServerTarget]):
    """A DHCP server target and the tester's link to it."""

    def __init__(self, name: str, limits: Limits | None = None) -> None:
        topology = create_tester_target(promiscuous=True)
        super().__init__(name, topology, SERVER_CLASSES[name], limits)
        self.restarts = 0
        try:
            self.start()
        except BaseException:
            self.close()
            raise

    @property
    def plan(self) -> ServerPlan:
        return self.target.plan

    def start(self) -> None:
        self.target.start()
        wait_for_udp_port(self.topology.target.netns, 67, self.target)

    def ensure_alive(self) -> None:
        if not self.target.alive:
            self.restart()

    def restart(self) -> None:
        self.restarts += 1
        self.target.stop()
        self.start()


class DhcpClientBed(_Bed[DhcpClientTarget]):
    """The namespace pair a DHCP client target runs in; the client starts per test."""

    def __init__(self, name: str, limits: Limits | None = None) -> None:
        topology = create_tester_target(unnumbered=True, promiscuous=True)
        super().__init__(name, topology, CLIENT_CLASSES[name], limits)

    def server_config(self) -> ServerConfig:
        net = ipaddress.IPv4Network(
            f"{self.topology.tester.ip}/{self.topology.prefixlen}", strict=False
        )
        base = net.network_address
        return ServerConfig(
            server_id=self.topology.tester.ip,
            subnet=str(net),
            pool=(str(base + 100), str(base + 200)),
            lease_time_s=CLIENT_LEASE_S,
            t1_s=CLIENT_T1_S,
            t2_s=CLIENT_T2_S,
            router=self.topology.gateway,
            decline_probation_s=3600,
        )


def wait_for_udp_port(netns: str, port: int, target: DhcpServerTarget | DhcpClientTarget) -> None:
    """Until the daemon listens (raw-socket servers such as Kea and dhcpd bind a UDP socket
    too), or it exits, or START_WAIT_S passes."""
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        target.check_started()
        result = subprocess.run(
            ["ip", "netns", "exec", netns, "ss", "-H", "-u", "-l", "-n", f"sport = :{port}"],
            capture_output=True,
            text=True,
        )
        if result.stdout.strip():
            return
        time.sleep(0.1)
    raise TargetError(
        f"{target.name} did not listen on UDP port {port} within {START_WAIT_S:.0f} s"
    )


@dataclass
class DhcpCase:
    """What one DHCP test leaves as evidence."""

    __test__ = False

    link: Link
    target: DhcpServerTarget | DhcpClientTarget
    log_start: int = 0
    measurements: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.link.start_capture()
        self.log_start = self.target.log_size()

    def measure(self, what: str, value: str) -> None:
        self.measurements.append(f"{what}: {value}")

    def precondition(self, scenario: str) -> contextlib.AbstractContextManager[None]:
        return precondition(scenario)

    def evidence(self) -> list[Frame]:
        self.link.drain()
        return list(self.link.captured)

    @property
    def peer(self) -> DhcpLink:
        raise NotImplementedError

    def daemon_log(self) -> str:
        """Exactly what the daemon logged during this test."""
        return self.target.log_since(self.log_start) or "(nothing logged)"


@dataclass
class ServerCase(DhcpCase):
    clients: ClientsPeer = field(init=False)
    bed: DhcpServerBed | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # what a test's steps learnt

    def __post_init__(self) -> None:
        super().__post_init__()
        assert self.bed is not None
        mac = self.bed.topology.target.mac
        self.clients = ClientsPeer(self.link, self.bed.plan.server_ip, seed=None, server_mac=mac)

    @property
    def plan(self) -> ServerPlan:
        assert self.bed is not None
        return self.bed.plan

    @property
    def peer(self) -> ClientsPeer:
        return self.clients

    def restart_after_kill(self) -> None:
        """SIGKILL the server (no chance to save anything), then start it again."""
        assert self.bed is not None
        process = self.target.process
        if process is not None:
            os.kill(process.pid, signal.SIGKILL)
            process.popen.wait()
        self.bed.restart()


@dataclass
class ClientCase(DhcpCase):
    bed: DhcpClientBed | None = None
    server: ServerPeer = field(init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        assert self.bed is not None
        topo = self.bed.topology
        self.server = ServerPeer(self.link, self.bed.server_config(), topo.tester.mac)

    @property
    def client(self) -> DhcpClientTarget:
        assert isinstance(self.target, DhcpClientTarget)
        return self.target

    @property
    def peer(self) -> ServerPeer:
        return self.server

    def start(self) -> None:
        self.client.start()
        time.sleep(0.2)
        self.client.check_started()

    def add_squatter(self, ip: str) -> str:
        assert self.bed is not None
        return add_squatter(self.bed.topology, ip)

    def interface_addresses(self) -> list[str]:
        """The client's IPv4 addresses as ADDRESS/PREFIX, read in its namespace."""
        assert self.bed is not None
        topo = self.bed.topology
        out = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                topo.target.netns,
                "ip",
                "-j",
                "-4",
                "addr",
                "show",
                "dev",
                topo.target.ifname,
            ],
            capture_output=True,
            text=True,
        ).stdout
        addresses = []
        for link in json.loads(out or "[]"):
            for info in link.get("addr_info", []):
                addresses.append(f"{info['local']}/{info['prefixlen']}")
        return addresses

    def finish(self) -> None:
        self.client.stop()
        self.client.wipe_state()
        assert self.bed is not None
        topo = self.bed.topology
        if topo.squatter_netns:
            with contextlib.suppress(HarnessError, OSError):
                remove_namespace(topo.squatter_netns)
            topo.squatter_netns = None
