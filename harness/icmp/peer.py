"""The tester's side of ICMP: it sends messages to the target and reads what comes back."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.core.clock import receive_until, wall_ns
from harness.core.frames import decode_frame
from harness.core.link import Frame, Link
from reference_impl.wire.errors import WireError
from reference_impl.wire.ethernet import ETH_P_IP, Ethernet
from reference_impl.wire.icmp import Icmp
from reference_impl.wire.ipv4 import FLAG_MF, PROTO_ICMP, IPv4


@dataclass(frozen=True)
class Message:
    """An ICMP message of the exchange, with its addresses and a kernel timestamp."""

    ts_ns: int
    from_tester: bool
    src: str
    dst: str
    icmp: Icmp

    def describe(self) -> str:
        who = "tester" if self.from_tester else "target"
        checksum = "" if self.icmp.checksum_ok else " BAD CHECKSUM"
        return (
            f"{who} {self.src} > {self.dst} type={self.icmp.type} code={self.icmp.code} "
            f"id={self.icmp.ident} seq={self.icmp.seq} len={len(self.icmp.payload)}{checksum}"
        )


@dataclass
class IcmpPeer:
    link: Link
    tester_mac: str
    tester_ip: str
    target_mac: str
    target_ip: str
    exchanged: list[Message] = field(default_factory=list)
    scale: float = 1.0  # --timing-scale
    _fragments: dict[int, dict[int, tuple[bytes, bool]]] = field(default_factory=dict)

    def send(self, message: Icmp, *, corrupt_checksum: bool = False) -> None:
        """Send ``message`` to the target; with ``corrupt_checksum`` its checksum is wrong."""
        data = bytearray(message.emit())
        if corrupt_checksum:
            data[2] ^= 0x5A
        packet = IPv4(self.tester_ip, self.target_ip, PROTO_ICMP, bytes(data)).emit()
        self.link.send(Ethernet(self.target_mac, self.tester_mac, ETH_P_IP, packet).emit())
        self.exchanged.append(Message(wall_ns(), True, self.tester_ip, self.target_ip, message))

    def receive(self, within: float) -> list[Message]:
        """Every ICMP message the target sends within ``within`` seconds."""
        return list(receive_until(self._next, self.scale * within))

    def _next(self, timeout: float) -> Message | None:
        for frame in receive_until(self.link.receive, timeout):
            message = self._icmp(frame)
            if message is not None:
                self.exchanged.append(message)
                return message
        return None

    def _icmp(self, frame: Frame) -> Message | None:
        decoded = decode_frame(frame.data)
        ip = decoded.ip
        if ip is None or ip.proto != PROTO_ICMP or ip.src != self.target_ip:
            return None
        payload = self._reassembled(ip)
        if payload is None:
            return None
        try:
            return Message(frame.ts_ns, False, ip.src, ip.dst, Icmp.parse(payload))
        except WireError:
            return None

    def _reassembled(self, ip: IPv4) -> bytes | None:
        """The whole ICMP message: a fragmented one (a host that learnt a smaller path MTU
        may fragment its replies, RFC 1191) once its last fragment is in, else None. The
        checksum covers the whole message, so a fragment alone cannot be judged."""
        if not ip.flags & FLAG_MF and not ip.frag_offset:
            return ip.payload
        parts = self._fragments.setdefault(ip.ident, {})
        parts[ip.frag_offset * 8] = (ip.payload, bool(ip.flags & FLAG_MF))
        data, more = b"", True
        for offset in sorted(parts):
            if offset != len(data):
                return None  # a gap: a fragment is still to come (or was lost)
            payload, more = parts[offset]
            data += payload
        if more:
            return None  # the last fragment is still to come
        del self._fragments[ip.ident]
        return data

    def transcript(self) -> list[str]:
        return [m.describe() for m in self.exchanged]
