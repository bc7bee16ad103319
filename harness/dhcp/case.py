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
import socket
import subprocess
import time
from typing import Any

from harness.core import registry
from harness.core.bed import Bed
from harness.core.case import Case, Evidence
from harness.core.cgroups import Limits
from harness.core.clock import poll_until
from harness.core.errors import HarnessError, TargetError
from harness.core.registry import DHCP_CLIENT, DHCP_SERVER, TargetSettings
from harness.core.tolerance import Tolerance
from harness.core.topology import add_squatter, give_tester_address, remove_namespace
from harness.dhcp import targets  # noqa: F401  (registers the DHCP kinds)
from harness.dhcp.daemons import DhcpClientTarget, DhcpServerTarget, ServerPlan
from harness.dhcp.peer import ClientsPeer, DhcpLink, ServerPeer
from harness.report.ladder import message_ladder_svg
from reference_impl.dhcp.server import ServerConfig

START_WAIT_S = 10.0
# Leases long enough that no client's own floors (udhcpc raises leases under 30 s) or
# retransmission intervals (dhclient retries every 7-22 s) decide a verdict, with explicit
# T1/T2 options: 45 s from T2 to the end of the lease leave room to rebind. The timer tests
# that wait for them run side by side in the background (harness.dhcp.recorded).
CLIENT_LEASE_S, CLIENT_T1_S, CLIENT_T2_S = 120, 30, 75


class DhcpServerBed(Bed):
    """A DHCP server target and the tester's link to it."""

    target: DhcpServerTarget

    def __init__(self, name: str, limits: Limits | None = None) -> None:
        super().__init__(registry.kind(DHCP_SERVER, name), TargetSettings(limits or Limits()))
        # Every address the server has offered or acknowledged on this bed (its tests share
        # the server and its leases): a test that wants a free address picks another.
        self.handed_out: set[str] = set()

    @property
    def plan(self) -> ServerPlan:
        return self.target.plan

    def start_target(self) -> None:
        self.target.start()
        wait_for_udp_port(self.topology.target.netns, 67, self.target)


class DhcpClientBed(Bed):
    """The namespace pair a DHCP client target runs in; the client starts per test."""

    target: DhcpClientTarget
    start_at_once = False

    def __init__(self, name: str, limits: Limits | None = None) -> None:
        self.server_port_sink: socket.socket | None = None  # made by attach()
        super().__init__(registry.kind(DHCP_CLIENT, name), TargetSettings(limits or Limits()))

    def attach(self) -> None:
        """The tester's namespace holds the server's address: its kernel answers the client's
        ARP for the server as fast as a real server's host does. A client that sends a unicast
        RELEASE and removes its address a few milliseconds later (udhcpc's and dhclient's
        hooks) lost about one RELEASE in a hundred to the harness's slower answer from Python."""
        self.server_port_sink = give_tester_address(self.topology, 67)

    def detach(self) -> None:
        if self.server_port_sink is not None:
            self.server_port_sink.close()

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

    def listening() -> bool:
        target.check_started()  # raises if it exited
        result = subprocess.run(
            ["ip", "netns", "exec", netns, "ss", "-H", "-u", "-l", "-n", f"sport = :{port}"],
            capture_output=True,
            text=True,
        )
        return bool(result.stdout.strip())

    if poll_until(listening, START_WAIT_S):
        return
    raise TargetError(
        f"{target.name} did not listen on UDP port {port} within {START_WAIT_S:.0f} s"
    )


class DhcpCase(Case):
    """What one DHCP test leaves as evidence: its capture, the DHCP messages both ways, a
    ladder of them, and exactly what the daemon logged meanwhile."""

    bed: DhcpServerBed | DhcpClientBed

    def __init__(
        self, bed: DhcpServerBed | DhcpClientBed, tolerance: Tolerance | None = None
    ) -> None:
        super().__init__(bed, tolerance)
        self.target = bed.target
        self.log_start = self.target.log_size()

    @property
    def peer(self) -> DhcpLink:
        raise NotImplementedError

    def daemon_log(self) -> str:
        """Exactly what the daemon logged during this test."""
        return self.target.log_since(self.log_start) or "(nothing logged)"

    def add_evidence(self, found: Evidence) -> None:
        add_dhcp_evidence(found, self.peer, self.title)
        found.texts.append((f"{self.target.name} log", self.daemon_log()))


def add_dhcp_evidence(found: Evidence, peer: DhcpLink, title: str) -> None:
    """The DHCP messages as the transcript, and their ladder."""
    found.transcript = peer.transcript()
    found.transcript_name = "DHCP messages"
    rows = [(seen.ts_ns, seen.from_tester, seen.packet.short()) for seen in peer.exchanged]
    if rows:
        found.pictures.append(("ladder (DHCP)", message_ladder_svg(rows, title)))


class ServerCase(DhcpCase):
    """One test against a DHCP server target: ``clients`` makes up clients."""

    bed: DhcpServerBed

    def __init__(self, bed: DhcpServerBed, tolerance: Tolerance | None = None) -> None:
        super().__init__(bed, tolerance)
        self.facts: dict[str, Any] = {}  # what a test's steps learnt
        mac = bed.topology.target.mac
        self.clients = ClientsPeer(self.link, bed.plan.server_ip, seed=None, server_mac=mac)
        self.clients.scale = self.tolerance.scale

    @property
    def plan(self) -> ServerPlan:
        return self.bed.plan

    @property
    def peer(self) -> ClientsPeer:
        return self.clients

    def finish(self) -> None:
        super().finish()
        self.bed.handed_out |= self.clients.addresses_handed_out()

    def free_pool_address(self, offsets: range) -> str | None:
        """A pool address at one of ``offsets`` that the server has handed out to no client
        on this bed, in earlier tests or in this one so far (a random one of them), or None."""
        first = ipaddress.IPv4Address(self.plan.pool[0])
        taken = self.bed.handed_out | self.clients.addresses_handed_out()
        free = [str(first + i) for i in offsets if str(first + i) not in taken]
        return self.clients.rng.choice(free) if free else None

    def restart_after_kill(self) -> None:
        """SIGKILL the server (no chance to save anything), then start it again."""
        process = self.bed.target.process
        if process is not None:
            os.kill(process.pid, signal.SIGKILL)
            process.popen.wait()
        self.bed.restart()


class ClientCase(DhcpCase):
    """One test against a DHCP client target: ``start()`` starts the client; ``server``
    (the reference server) answers it."""

    bed: DhcpClientBed

    def __init__(self, bed: DhcpClientBed, tolerance: Tolerance | None = None) -> None:
        super().__init__(bed, tolerance)
        topo = bed.topology
        self.server = ServerPeer(self.link, bed.server_config(), topo.tester.mac)
        self.server.scale = self.tolerance.scale

    @property
    def client(self) -> DhcpClientTarget:
        return self.bed.target

    @property
    def peer(self) -> ServerPeer:
        return self.server

    def add_evidence(self, found: Evidence) -> None:
        super().add_evidence(found)
        found.texts.append(("client hook events", "\n".join(self.client.events()) or "(none)"))

    def start(self) -> None:
        self.client.start()
        time.sleep(0.2)
        self.client.check_started()

    def add_squatter(self, ip: str) -> str:
        return add_squatter(self.bed.topology, ip)

    def interface_addresses(self) -> list[str]:
        """The client's IPv4 addresses as ADDRESS/PREFIX, read in its namespace."""
        topo = self.bed.topology
        show = ["ip", "-j", "-4", "addr", "show", "dev", topo.target.ifname]
        out = subprocess.run(
            ["ip", "netns", "exec", topo.target.netns, *show],
            capture_output=True,
            text=True,
        ).stdout
        return [
            f"{info['local']}/{info['prefixlen']}"
            for link in json.loads(out or "[]")
            for info in link.get("addr_info", [])
        ]

    def finish(self) -> None:
        self.client.stop()
        self.client.wipe_state()
        topo = self.bed.topology
        if topo.squatter_netns:
            with contextlib.suppress(HarnessError, OSError):
                remove_namespace(topo.squatter_netns)
            topo.squatter_netns = None
