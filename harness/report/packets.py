"""A packet list a person can read: one line per frame, relative numbers, kernel times."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from harness.link import Frame
from reference_impl.wire.seqnum import relative
from reference_impl.wire.tcp import flags_text

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.layers.inet import IP, TCP  # noqa: E402
from scapy.layers.l2 import Ether  # noqa: E402

Flow = tuple[str, int, str, int]


def packet_list(frames: Sequence[Frame]) -> str:
    """Render frames as lines: time since the first frame, direction, TCP fields.

    Sequence and acknowledgement numbers are relative to each side's first SYN (or first
    segment) in the capture, as Wireshark shows them.
    """
    if not frames:
        return "(no frames captured)\n"
    t0 = frames[0].ts_ns
    origins: dict[Flow, int] = {}
    lines = [f"{'time':>11}  {'from':<6}  summary"]
    for frame in frames:
        sender = "tester" if frame.outgoing else "target"
        lines.append(f"{(frame.ts_ns - t0) / 1e6:>9.3f}ms  {sender:<6}  {_summary(frame, origins)}")
    return "\n".join(lines) + "\n"


def _summary(frame: Frame, origins: dict[Flow, int]) -> str:
    try:
        pkt = Ether(frame.data)
    except Exception as exc:  # a malformed frame is shown, never fatal
        return f"undecodable frame ({len(frame.data)} bytes): {exc}"
    if IP not in pkt or TCP not in pkt:
        return str(pkt.summary())
    ip, tcp = pkt[IP], pkt[TCP]
    flow: Flow = (ip.src, tcp.sport, ip.dst, tcp.dport)
    back: Flow = (ip.dst, tcp.dport, ip.src, tcp.sport)
    flags = flags_text(int(tcp.flags)).replace(".", "")
    origins.setdefault(flow, tcp.seq)
    if "S" in flags:
        origins[flow] = tcp.seq
    seq = relative(tcp.seq, origins[flow])
    text = f"{ip.src}:{tcp.sport} > {ip.dst}:{tcp.dport} [{flags or '.'}] seq={seq}"
    if "A" in flags:
        ack = relative(tcp.ack, origins[back]) if back in origins else tcp.ack
        text += f" ack={ack}"
    text += f" win={tcp.window} len={len(bytes(tcp.payload))}"
    if tcp.options:
        text += " <" + ",".join(_option(k, v) for k, v in tcp.options) + ">"
    return text


def _option(kind: object, value: object) -> str:
    if value in (None, b""):
        return str(kind)
    return f"{kind} {value}"
