"""DORA throughput of the reference DHCP server over a veth pair, against dnsmasq measured
in the same run as the baseline.

    .venv/bin/python bench/dhcp.py [--clients 1000] [--window 32]

Each client is distinct (its own MAC and client identifier); the harness runs DISCOVER,
OFFER, REQUEST, ACK for ``--window`` clients at a time through AF_PACKET on the tester side
of the veth. The server under test is the real process (for ref: harness.dhcp.refserver
with its SQLite lease store, one committed transaction per lease change). Prints exchanges
per second for both, the ratio, and checks that no address was handed out twice.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.core import registry
from harness.core.link import Link
from harness.core.registry import DHCP_SERVER, TargetSettings
from harness.core.topology import create_tester_target
from harness.dhcp import targets  # noqa: F401  (registers the DHCP kinds)
from harness.dhcp.case import wait_for_udp_port
from harness.dhcp.peer import ClientsPeer, FakeClient
from reference_impl.dhcp.packets import DhcpPacket
from reference_impl.wire.dhcp import DISCOVER, REQUEST

SUBNET = "198.18.0.0/21"  # a pool of about 1,900 addresses
REPLY_WAIT_S = 2.0
MAX_ATTEMPTS = 5


def replies(peer: ClientsPeer, pending: list[FakeClient]) -> dict[int, DhcpPacket]:
    """Replies to the pending clients' transactions, waiting at most REPLY_WAIT_S."""
    xids = {client.xid for client in pending}
    got: dict[int, DhcpPacket] = {}
    deadline = time.monotonic() + REPLY_WAIT_S
    while len(got) < len(xids) and (left := deadline - time.monotonic()) > 0:
        seen = peer.receive(left)
        if seen is None:
            break
        if seen.packet.message.op == 2 and seen.packet.message.xid in xids:
            got[seen.packet.message.xid] = seen.packet
    return got


def dora(peer: ClientsPeer, batch: list[FakeClient], server_ip: str) -> tuple[list[str], int]:
    """DORA for every client of the batch; a client whose exchange fails (no reply, a NAK:
    a server may offer one address to two clients at once) starts over, as a real client
    would. Returns the addresses and the number of restarts."""
    pending, addresses, restarts = list(batch), [], 0
    for _attempt in range(MAX_ATTEMPTS):
        for client in pending:
            peer.send_from(client, peer.message(client, DISCOVER, broadcast=True))
        offers = replies(peer, pending)
        offered = [c for c in pending if c.xid in offers and offers[c.xid].kind == "DHCPOFFER"]
        for client in offered:
            address = offers[client.xid].message.yiaddr
            request = peer.message(
                client,
                REQUEST,
                requested=address,
                server_id=server_ip,
                broadcast=True,
                new_xid=False,
            )
            peer.send_from(client, request)
        acks = replies(peer, offered)
        done = {c.xid for c in offered if c.xid in acks and acks[c.xid].kind == "DHCPACK"}
        addresses += [acks[xid].message.yiaddr for xid in done]
        pending = [c for c in pending if c.xid not in done]
        if not pending:
            return addresses, restarts
        restarts += len(pending)
    raise SystemExit(f"{len(pending)} clients got no lease after {MAX_ATTEMPTS} attempts")


def run(name: str, clients: int, window: int) -> tuple[float, list[str], int]:
    topo = create_tester_target(SUBNET, promiscuous=True)
    target = registry.kind(DHCP_SERVER, name).factory(topo, TargetSettings())
    link = Link(topo.tester.netns, topo.tester.ifname)
    try:
        target.start()
        wait_for_udp_port(topo.target.netns, 67, target)
        peer = ClientsPeer(link, target.plan.server_ip, seed=7)
        addresses: list[str] = []
        restarts = 0
        start = time.perf_counter()
        for first in range(0, clients, window):
            batch = [peer.new_client() for _ in range(min(window, clients - first))]
            got, again = dora(peer, batch, target.plan.server_ip)
            addresses += got
            restarts += again
            peer.exchanged.clear()  # keep memory flat
            link.captured.clear()
        elapsed = time.perf_counter() - start
        return clients / elapsed, addresses, restarts
    finally:
        link.close()
        target.close()
        topo.teardown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--window", type=int, default=32, help="clients in flight at once")
    args = parser.parse_args()
    print(
        f"{args.clients} DORA exchanges from distinct clients over a veth, {args.window} in flight"
    )
    results = {}
    for name in ("ref", "dnsmasq"):
        rate, addresses, restarts = run(name, args.clients, args.window)
        twice = len(addresses) - len(set(addresses))
        print(
            f"  {name:<8} {rate:8.0f} exchanges/s   {len(addresses)} leases, "
            f"handed out twice: {twice}, exchanges restarted: {restarts}"
        )
        if twice:
            print(f"FAIL: {name} gave {twice} addresses to two clients")
            return 1
        results[name] = rate
    print(f"  ref / dnsmasq = {results['ref'] / results['dnsmasq']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
