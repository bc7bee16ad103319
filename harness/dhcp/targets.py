"""The DHCP targets, registered: servers (the harness plays the clients) and clients (the
harness plays the server). Every one but ``ref`` is a third-party implementation under
observation: its deviations are findings, recorded in the report."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from harness.core.registry import (
    DHCP_CLIENT,
    DHCP_SERVER,
    TargetKind,
    TargetSettings,
    TopologyNeeds,
    register,
)
from harness.core.topology import TesterTarget
from harness.dhcp import daemons
from harness.dhcp.daemons import DhcpDaemon

# A server's replies go to hardware addresses the tester makes up; a client's interface
# starts without an address, and the tester (its server) sees its frames to any MAC.
SERVER_TOPOLOGY = TopologyNeeds(promiscuous=True)
CLIENT_TOPOLOGY = TopologyNeeds(unnumbered=True, promiscuous=True)


def _factory(cls: type[DhcpDaemon]) -> Callable[[TesterTarget, TargetSettings], DhcpDaemon]:
    def make(topology: TesterTarget, settings: TargetSettings) -> DhcpDaemon:
        return cls(topology, settings.limits)

    return make


def _register(
    role: str, cls: type[DhcpDaemon], package: str = "", binary: str = "", settings: str = ""
) -> None:
    """A daemon kind; a third-party one comes with its Debian package, its binary and the
    settings the harness gives it (shown in the report)."""
    topology = SERVER_TOPOLOGY if role == DHCP_SERVER else CLIENT_TOPOLOGY
    kind = TargetKind(cls.name, role, _factory(cls), topology, package, binary, settings)
    register(dataclasses.replace(kind, third_party=bool(package)))


def _server(cls: type[DhcpDaemon], *package_binary_settings: str) -> None:
    _register(DHCP_SERVER, cls, *package_binary_settings)


def _client(cls: type[DhcpDaemon], *package_binary_settings: str) -> None:
    _register(DHCP_CLIENT, cls, *package_binary_settings)


_server(daemons.RefServer)
_server(
    daemons.Dnsmasq,
    "dnsmasq-base",
    "dnsmasq",
    "no-ping (no ICMP check before an offer); otherwise defaults (not authoritative)",
)
_server(
    daemons.Kea,
    "kea-dhcp4-server",
    "kea-dhcp4",
    "raw sockets, memfile leases; otherwise defaults (not authoritative)",
)
_server(
    daemons.IscDhcpd,
    "isc-dhcp-server",
    "dhcpd",
    "ping-check false; otherwise defaults (not authoritative)",
)
_client(daemons.RefClient)
_client(
    daemons.Dhclient,
    "isc-dhcp-client",
    "dhclient",
    "empty dhclient.conf (built-in defaults), harness hook script",
)
_client(
    daemons.Udhcpc,
    "udhcpc",
    "udhcpc",
    "defaults (no -a ARP check), foreground, harness hook script",
)
_client(
    daemons.Dhcpcd,
    "dhcpcd-base",
    "dhcpcd",
    "defaults, IPv4 only, no IPv4LL, harness hook script",
)
