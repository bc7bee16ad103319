"""Benchmark: SYNs per second the reference host answers, with few and with many
connections already open (half-open ones, SYN-SENT), in the same run.

    .venv/bin/python bench/synflood.py [--open 14000]

The host's work per frame must not grow with its connection count: the ratio printed should
be near 1 (it was 24 SYN/s at 14,000 half-open connections before the host kept its timers
in a heap and its flush to the connections a frame touched).
"""

from __future__ import annotations

import argparse
import time

from reference_impl.host import Host, HostConfig
from reference_impl.wire.ethernet import ETH_P_IP, Ethernet
from reference_impl.wire.ipv4 import PROTO_TCP, IPv4
from reference_impl.wire.tcp import SYN, Mss, TcpSegment

HOST_MAC, PEER_MAC = "02:00:00:00:00:02", "02:00:00:00:00:01"
HOST_IP, PEER_IP = "198.18.0.2", "198.18.0.1"
SYNS = 5_000


def syn(sport: int) -> bytes:
    seg = TcpSegment(sport, 80, 1000, 0, SYN, 65535, b"", (Mss(1460),))
    packet = IPv4(PEER_IP, HOST_IP, PROTO_TCP, seg.emit(PEER_IP, HOST_IP)).emit()
    return Ethernet(HOST_MAC, PEER_MAC, ETH_P_IP, packet).emit()


def syns_per_second(already_open: int) -> float:
    host = Host(HostConfig(mac=HOST_MAC, ip=HOST_IP, neighbors={PEER_IP: PEER_MAC}))
    for i in range(already_open):  # half-open connections of our own, to a silent peer
        host.connect(PEER_IP, 9000 + i % 50_000, now=0, sport=1024 + i)
    host.flush()
    host.listen(80, backlog=SYNS)
    frames = [syn(20000 + i) for i in range(SYNS)]
    start = time.perf_counter()
    for n, frame in enumerate(frames):
        host.receive_frame(frame, now=n)
        host.next_timer()  # what a host's I/O loop asks after every frame
    return SYNS / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--open", type=int, default=14_000)
    args = parser.parse_args()
    few, many = syns_per_second(100), syns_per_second(args.open)
    print(f"SYNs answered per second with {100:>6} connections open: {few:10.0f}")
    print(f"SYNs answered per second with {args.open:>6} connections open: {many:10.0f}")
    print(f"ratio (many / few): {many / few:.2f}")


if __name__ == "__main__":
    main()
