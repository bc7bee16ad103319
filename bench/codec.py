"""Benchmark: decode + encode of TCP segments, reference codec against Scapy, same run.

    .venv/bin/python bench/codec.py [--seconds 2]

The segment is a bulk-data segment as Linux sends it: 1,448 bytes with the timestamps
option. Prints segments per second for the TCP layer alone (the target: decode + encode at
least 30x Scapy's dissect + build, and at least 150,000 decodes per second) and for whole
Ethernet frames, with the ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable

from reference_impl.wire.ethernet import ETH_P_IP, Ethernet
from reference_impl.wire.ipv4 import PROTO_TCP, IPv4
from reference_impl.wire.tcp import ACK, PSH, Nop, TcpSegment, Timestamps

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.layers.inet import IP, TCP  # noqa: E402
from scapy.layers.l2 import Ether  # noqa: E402
from scapy.packet import Raw  # noqa: E402

SRC, DST = "198.18.0.1", "198.18.0.2"
MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"


def sample_frame() -> bytes:
    seg = TcpSegment(
        40000,
        80,
        123456789,
        987654321,
        ACK | PSH,
        501,
        b"x" * 1448,
        (Nop(), Nop(), Timestamps(1234567, 7654321)),
    )
    packet = IPv4(SRC, DST, PROTO_TCP, seg.emit(SRC, DST))
    return Ethernet(MAC_B, MAC_A, ETH_P_IP, packet.emit()).emit()


def rate(work: Callable[[], object], seconds: float) -> float:
    """Operations per second, measured over at least ``seconds``."""
    count, batch = 0, 100
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(batch):
            work()
        count += batch
    return count / elapsed


def rebuild_tcp(tcp: TCP) -> TCP:
    """What a Scapy user does to answer a segment: a new TCP layer from the dissected one."""
    return TCP(
        sport=tcp.sport,
        dport=tcp.dport,
        seq=tcp.seq,
        ack=tcp.ack,
        flags=tcp.flags,
        window=tcp.window,
        options=tcp.options,
    ) / Raw(bytes(tcp.payload))


def reference_decode(frame: bytes) -> TcpSegment:
    eth = Ethernet.parse(frame)
    return TcpSegment.parse(IPv4.parse(eth.payload).payload)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    frame = sample_frame()
    segment_bytes = IPv4.parse(Ethernet.parse(frame).payload).payload
    assert reference_decode(frame).payload == b"x" * 1448

    def ref_tcp() -> bytes:
        return TcpSegment.parse(segment_bytes).emit(SRC, DST)

    def scapy_tcp() -> bytes:
        return bytes(rebuild_tcp(TCP(segment_bytes)))

    def ref_frame() -> bytes:
        s = reference_decode(frame)
        packet = IPv4(SRC, DST, PROTO_TCP, s.emit(SRC, DST))
        return Ethernet(MAC_B, MAC_A, ETH_P_IP, packet.emit()).emit()

    def scapy_frame() -> bytes:
        return bytes(
            Ether(src=MAC_A, dst=MAC_B) / IP(src=SRC, dst=DST) / rebuild_tcp(Ether(frame)[TCP])
        )

    assert TCP(ref_tcp()).payload.load == TCP(scapy_tcp()).payload.load
    t = args.seconds
    tcp_decode = rate(lambda: TcpSegment.parse(segment_bytes), t)
    tcp_ref, tcp_scapy = rate(ref_tcp, t), rate(scapy_tcp, t)
    frame_decode = rate(lambda: reference_decode(frame), t)
    frame_ref, frame_scapy = rate(ref_frame, t), rate(scapy_frame, t)
    rows = [
        ("TCP segment: reference decode", tcp_decode, "target >= 150,000/s"),
        ("TCP segment: reference decode + encode", tcp_ref, ""),
        ("TCP segment: Scapy dissect + build", tcp_scapy, ""),
        ("Ethernet frame: reference decode", frame_decode, "Ethernet + IPv4 + TCP"),
        ("Ethernet frame: reference decode + encode", frame_ref, ""),
        ("Ethernet frame: Scapy dissect + build", frame_scapy, ""),
    ]
    for name, value, note in rows:
        print(f"{name:<44} {value:>10,.0f}/s  {note}")
    print(
        f"{'ratio reference / Scapy, TCP segment':<44} {tcp_ref / tcp_scapy:>10.1f}x  target >= 30x"
    )
    print(f"{'ratio reference / Scapy, Ethernet frame':<44} {frame_ref / frame_scapy:>10.1f}x")


if __name__ == "__main__":
    main()
