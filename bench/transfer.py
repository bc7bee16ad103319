"""Benchmark: a bulk transfer between two reference connections, in memory.

    .venv/bin/python bench/transfer.py [--megabytes 100] [--mss 1460]

No link, no loss: every segment one side emits is handed to the other at once (virtual
time advances 50 us per exchange). Prints MB/s of goodput for the Ethernet MSS and for a
loopback-sized MSS, beside the raw cost of the codec for the same number of segments, all
measured in this run (target: at least 50 MB/s).
"""

from __future__ import annotations

import argparse
import time

from reference_impl.tcp.connection import TcpConnection
from reference_impl.tcp.profiles import LINUX
from reference_impl.wire.tcp import TcpSegment

STEP_US = 50


def run_transfer(total: int, mss: int) -> tuple[float, int, bytes]:
    """Return (seconds, segments, the last bytes received) for ``total`` bytes."""
    profile = LINUX.with_(mss=mss, rcvbuf=4 << 20, sndbuf=4 << 20, window_scale=7, sack=True)
    client = TcpConnection.connect(40000, 80, iss=1, now=0, profile=profile)
    server: TcpConnection | None = None
    block = bytes(range(256)) * 256  # 64 KiB
    sent = received = segments = now = 0
    tail = b""
    to_server: list[TcpSegment] = client.outgoing()
    to_client: list[TcpSegment] = []
    start = time.perf_counter()
    while received < total:
        now += STEP_US
        for seg in to_server:
            if server is None:
                server = TcpConnection.accept_syn(seg, iss=9, now=now, profile=profile)
                to_client += server.outgoing()
            else:
                to_client += server.receive_segment(seg, now=now)
        segments += len(to_server)
        to_server = []
        if server is not None:
            data = server.read(1 << 22, now=now)
            if data:
                received += len(data)
                tail = data[-16:]
            to_client += server.outgoing() + server.on_timer(now=now)
        for seg in to_client:
            to_server += client.receive_segment(seg, now=now)
        segments += len(to_client)
        to_client = []
        while (
            sent < total and client.state.value == "ESTABLISHED" and client.send_space >= len(block)
        ):
            chunk = block[: min(len(block), total - sent)]
            to_server += client.send(chunk, now=now)
            sent += len(chunk)
        to_server += client.on_timer(now=now)
    return time.perf_counter() - start, segments, tail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=100)
    args = parser.parse_args()
    total = args.megabytes * 1_000_000
    for label, mss in (("Ethernet MSS 1460", 1460), ("loopback MSS 65483", 65483)):
        seconds, segments, tail = run_transfer(total, mss)
        expected_tail = (bytes(range(256)) * 256 * (total // 65536 + 1))[:total][-16:]
        assert tail == expected_tail, "the last bytes differ: the transfer is broken"
        print(
            f"{label:<20} {args.megabytes} MB in {seconds:6.2f} s = "
            f"{total / seconds / 1e6:7.1f} MB/s"
            f"  ({segments:,} segments, {segments / seconds:,.0f} segments/s)  target >= 50 MB/s"
        )


if __name__ == "__main__":
    main()
