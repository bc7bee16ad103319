"""The DHCP targets on real links: the reference server survives SIGKILL with its leases,
the squatter answers ARP, and daemons' FAIL verdicts are recorded without gating a run."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from harness.core.link import Link
from harness.core.topology import add_squatter, create_tester_target
from harness.dhcp.case import ClientCase, DhcpClientBed, DhcpServerBed, wait_for_udp_port
from harness.dhcp.peer import ClientsPeer
from reference_impl.dhcp.packets import arp_frame, decode_arp
from reference_impl.wire import arp

pytestmark = pytest.mark.needs_root


def test_reference_server_keeps_every_lease_across_sigkill():
    """Issue 6: leases are in SQLite; after kill -9 and a restart no lease is lost (each
    client is offered its address again) and no address goes to two clients."""
    bed = DhcpServerBed("ref")
    try:
        peer = ClientsPeer(bed.link, bed.plan.server_ip, seed=3)
        first = [peer.new_client() for _ in range(5)]
        leased = {c.mac: peer.lease(c).message.yiaddr for c in first}
        assert bed.target.process is not None
        os.kill(bed.target.process.pid, signal.SIGKILL)
        bed.target.process.popen.wait()
        bed.target.stop()
        bed.start_target()
        for client in first:
            offer = peer.discover(client, what="DISCOVER after restart")
            assert offer.message.yiaddr == leased[client.mac]
        newcomers = [peer.lease(peer.new_client()).message.yiaddr for _ in range(5)]
        assert not set(newcomers) & set(leased.values())
        assert len(set(newcomers)) == 5
    finally:
        bed.close()


def test_squatter_answers_arp_probes_for_its_address():
    """The probe goes out where a DHCP client's would: from the target's interface."""
    topo = create_tester_target(unnumbered=True, promiscuous=True)
    try:
        squatter_mac = add_squatter(topo, "198.18.0.100")
        link = Link(topo.target.netns, topo.target.ifname)
        try:
            probe = arp_frame(arp.REQUEST, "02:00:00:00:00:99", "0.0.0.0", "", "198.18.0.100")
            link.send(probe)
            answers = []
            while (frame := link.receive(1.0)) is not None:
                reply = decode_arp(frame.data)
                if reply and reply.op == arp.REPLY:
                    answers.append(reply)
            assert [(a.sender_ip, a.sender_mac) for a in answers] == [
                ("198.18.0.100", squatter_mac)
            ]
        finally:
            link.close()
    finally:
        topo.teardown()
    assert not os.path.exists(f"/run/netns/{topo.squatter_netns}")


def test_a_server_that_will_not_start_is_an_error_with_its_log():
    bed = DhcpServerBed("ref")
    try:
        bed.target.stop()
        (bed.target.workdir / "server.json").write_text("{}")
        bed.target.prepare = lambda: None  # type: ignore[method-assign]
        with pytest.raises(Exception, match="exited at start"):
            bed.target.start()
            wait_for_udp_port(bed.topology.target.netns, 67, bed.target)
    finally:
        bed.close()


@pytest.mark.parametrize("name", ["dhclient", "udhcpc", "dhcpcd"])
def test_client_daemons_leave_the_hosts_files_alone(name):
    """A client binds, renews nothing, releases and stops: /etc/resolv.conf and the
    daemons' system lease directories are as they were (everything went to the work dir)."""
    watched = ["/etc/resolv.conf", "/var/lib/dhcp", "/var/lib/dhcpcd", "/run"]
    before = {path: _fingerprint(path) for path in watched}
    bed = DhcpClientBed(name)
    try:
        case = ClientCase(bed)
        case.start()
        ack = case.server.wait_bound(30.0)
        assert ack.message.yiaddr
        case.client.release()
        case.server.collect(3.0)
        case.finish()
    finally:
        bed.close()
    assert {path: _fingerprint(path) for path in watched} == before


def _fingerprint(path: str) -> object:
    """A file's bytes; a folder's entries (in /run, only those a DHCP client could make: the
    rest of /run belongs to whatever else runs on the machine meanwhile)."""
    if os.path.isfile(path):
        with open(path, "rb") as f:
            return f.read()
    if not os.path.isdir(path):
        return None
    names = [entry.name for entry in os.scandir(path)]
    if path == "/run":
        names = [n for n in names if re.search(r"dhc|udhcp|resolv", n)]
    return sorted(names)


CLIENT_SIDE = """
import errno, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
s.connect((sys.argv[1], 67))
s.send(b"x" * 300)
try:
    s.recv(100)
except socket.timeout:
    print("silent")
except ConnectionRefusedError:
    print("port unreachable")
"""


def test_the_server_address_answers_arp_at_once_and_nothing_else():
    """A client bed's tester namespace holds the server's address: its kernel answers the
    client's ARP for the server with no help from the harness (which reads nothing here), as
    fast as a real server's host (a unicast RELEASE followed by the address's removal no longer
    loses the race), and a datagram to port 67 draws no ICMP port unreachable."""
    bed = DhcpClientBed("udhcpc")
    try:
        topo = bed.topology
        ns = ["ip", "netns", "exec", topo.target.netns]
        subprocess.run(
            [*ns, "ip", "addr", "add", "198.18.0.150/24", "dev", topo.target.ifname], check=True
        )
        out = subprocess.run(
            [*ns, sys.executable, "-c", CLIENT_SIDE, topo.tester.ip],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert out.strip() == "silent"
        neigh = subprocess.run(
            [*ns, "ip", "neigh", "show", topo.tester.ip], capture_output=True, text=True
        ).stdout
        assert topo.tester.mac in neigh and "REACHABLE" in neigh, neigh
    finally:
        bed.close()
