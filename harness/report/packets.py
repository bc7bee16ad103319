"""A packet list a person can read: one line per frame, relative numbers, kernel times.

Frames are decoded by the reference codec (harness.core.frames), the same view the checks use: a
frame the checks could not use is marked ``MALFORMED (layer.field: reason)`` here too, never
shown as an ordinary segment. Long captures are cut at MAX_LINES lines (a flood is counted,
not listed).
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.core.frames import Decoded, decode_frame
from harness.core.link import Frame
from reference_impl.tcp.seq import relative
from reference_impl.wire.arp import REQUEST
from reference_impl.wire.tcp import flags_text

Flow = tuple[str, int, str, int]
MAX_LINES = 3000


def packet_list(frames: Sequence[Frame], max_lines: int = MAX_LINES) -> str:
    """Render frames as lines: time since the first frame, direction, summary.

    Sequence and acknowledgement numbers are relative to each side's first SYN (or first
    segment) in the capture, as Wireshark shows them.
    """
    if not frames:
        return "(no frames captured)\n"
    t0 = frames[0].ts_ns
    origins: dict[Flow, int] = {}
    lines = [f"{'time':>11}  {'from':<6}  summary"]
    for frame in frames[:max_lines]:
        sender = "tester" if frame.outgoing else "target"
        summary = _summary(decode_frame(frame.data), len(frame.data), origins)
        lines.append(f"{(frame.ts_ns - t0) / 1e6:>9.3f}ms  {sender:<6}  {summary}")
    if len(frames) > max_lines:
        lines.append(f"... {len(frames) - max_lines} more frames (see capture.pcap)")
    return "\n".join(lines) + "\n"


def _summary(frame: Decoded, size: int, origins: dict[Flow, int]) -> str:
    if frame.eth is None:
        return f"{frame.malformed} ({size} bytes)"
    if frame.arp is not None:
        arp = frame.arp
        if arp.op == REQUEST:
            return f"ARP who has {arp.target_ip}? tell {arp.sender_ip} ({arp.sender_mac})"
        return f"ARP {arp.sender_ip} is at {arp.sender_mac}"
    if frame.ip is None:
        what = frame.malformed or f"ethertype 0x{frame.eth.ethertype:04x}"
        return f"{frame.eth.src} > {frame.eth.dst} {what} ({size} bytes)"
    ip = frame.ip
    if frame.tcp is not None and not frame.problem:
        return _tcp_line(frame, origins)
    if frame.udp is not None and not frame.problem:
        udp = frame.udp
        return f"{ip.src}:{udp.sport} > {ip.dst}:{udp.dport} UDP len={len(udp.payload)}"
    what = frame.malformed or f"IP protocol {ip.proto}"
    return f"{ip.src} > {ip.dst} {what} ({size} bytes)"


def _tcp_line(frame: Decoded, origins: dict[Flow, int]) -> str:
    ip, tcp = frame.ip, frame.tcp
    assert ip is not None and tcp is not None
    flow: Flow = (ip.src, tcp.sport, ip.dst, tcp.dport)
    back: Flow = (ip.dst, tcp.dport, ip.src, tcp.sport)
    flags = flags_text(tcp.flags).replace(".", "")
    origins.setdefault(flow, tcp.seq)
    if "S" in flags:
        origins[flow] = tcp.seq
    text = f"{ip.src}:{tcp.sport} > {ip.dst}:{tcp.dport} [{flags or '.'}] "
    text += f"seq={relative(tcp.seq, origins[flow])}"
    if "A" in flags:
        ack = relative(tcp.ack, origins[back]) if back in origins else tcp.ack
        text += f" ack={ack}"
    text += f" win={tcp.window} len={len(tcp.payload)}"
    if tcp.options:
        text += " <" + ",".join(_option(o) for o in tcp.options) + ">"
    return text


def _option(option: object) -> str:
    name = type(option).__name__
    values = [str(getattr(option, f)) for f in getattr(option, "__dataclass_fields__", {})]
    return f"{name} {' '.join(values)}" if values else name
