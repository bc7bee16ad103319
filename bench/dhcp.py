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

from harness.dhcp.case import wait_for_udp_port
from harness.dhcp.peer import ClientsPeer, FakeClient
from harness.link import Link
from harness.targets.dhcp import SERVER_CLASSES
from harness.topology import create_tester_target
from reference_impl.wire.dhcp import DISCOVER, REQUEST

SUBNET = "198.18.0.0/21"  # a pool of about 1,900 addresses
REPLY_WAIT_S = 10.0


def replies(peer: ClientsPeer, pending: dict[int, FakeClient], kind: str) -> dict[int, str]:
    """Wait for one reply of ``kind`` per pending xid; return xid -> yiaddr."""
    got: dict[int, str] = {}
    deadline = time.monotonic() + REPLY_WAIT_S
    while len(got) < len(pending) and (left := deadline - time.monotonic()) > 0:
        seen = peer.receive(left)
        if seen is None:
            break
        msg = seen.packet.message
        if msg.op == 2 and msg.xid in pending and seen.packet.kind == kind:
            got[msg.xid] = msg.yiaddr
    if len(got) < len(pending):
        raise SystemExit(f"{len(pending) - len(got)} {kind}s missing after {REPLY_WAIT_S} s")
    return got


def run(name: str, clients: int, window: int) -> tuple[float, list[str]]:
    topo = create_tester_target(SUBNET, promiscuous=True)
    target = SERVER_CLASSES[name](topo)
    link = Link(topo.tester.netns, topo.tester.ifname)
    try:
        target.start()
        wait_for_udp_port(topo.target.netns, 67, target)
        peer = ClientsPeer(link, target.plan.server_ip, seed=7)
        addresses: list[str] = []
        start = time.perf_counter()
        for first in range(0, clients, window):
            batch = [peer.new_client() for _ in range(min(window, clients - first))]
            for client in batch:
                peer.send_from(client, peer.message(client, DISCOVER, broadcast=True))
            offers = replies(peer, {c.xid: c for c in batch}, "DHCPOFFER")
            for client in batch:
                request = peer.message(
                    client,
                    REQUEST,
                    requested=offers[client.xid],
                    server_id=target.plan.server_ip,
                    broadcast=True,
                    new_xid=False,
                )
                peer.send_from(client, request)
            acks = replies(peer, {c.xid: c for c in batch}, "DHCPACK")
            addresses += acks.values()
            peer.exchanged.clear()  # keep memory flat
            link.captured.clear()
        elapsed = time.perf_counter() - start
        return clients / elapsed, addresses
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
        rate, addresses = run(name, args.clients, args.window)
        twice = len(addresses) - len(set(addresses))
        print(f"  {name:<8} {rate:8.0f} exchanges/s   addresses handed out twice: {twice}")
        if twice:
            print(f"FAIL: {name} gave {twice} addresses to two clients")
            return 1
        results[name] = rate
    print(f"  ref / dnsmasq = {results['ref'] / results['dnsmasq']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
