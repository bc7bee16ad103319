"""What a captured frame is, decoded by the reference codec, with what is wrong with it.

Every check and every attachment uses this one view, so that a frame the checks cannot use is
never shown as an ordinary segment: a bad IPv4 header checksum, a header length under 5, a
TCP data offset under 5, an option of length 0 or a SACK option of 3 bytes, a transport
checksum that does not verify. ``problem`` names the layer, the field and the reason, the
way ``WireError`` does: "ipv4.checksum: the header checksum does not verify".
"""

from __future__ import annotations

from dataclasses import dataclass

from reference_impl.wire.arp import Arp
from reference_impl.wire.errors import WireError
from reference_impl.wire.ethernet import ETH_P_ARP, ETH_P_IP, Ethernet
from reference_impl.wire.ipv4 import FLAG_MF, PROTO_TCP, PROTO_UDP, IPv4
from reference_impl.wire.tcp import TcpSegment, tcp_checksum_ok
from reference_impl.wire.udp import Udp, udp_checksum_ok


@dataclass(frozen=True, slots=True)
class Decoded:
    eth: Ethernet | None = None
    ip: IPv4 | None = None
    tcp: TcpSegment | None = None
    udp: Udp | None = None
    arp: Arp | None = None
    problem: str | None = None  # "layer.field: reason" when the frame is malformed

    @property
    def malformed(self) -> str:
        return f"MALFORMED ({self.problem})" if self.problem else ""


def decode_frame(data: bytes) -> Decoded:
    """Decode as far as the frame allows; never raises."""
    try:
        eth = Ethernet.parse(data)
    except WireError as exc:
        return Decoded(problem=_where(exc))
    if eth.ethertype == ETH_P_ARP:
        try:
            return Decoded(eth, arp=Arp.parse(eth.payload))
        except WireError as exc:
            return Decoded(eth, problem=_where(exc))
    if eth.ethertype != ETH_P_IP:
        return Decoded(eth)
    try:
        ip = IPv4.parse(eth.payload)
    except WireError as exc:
        return Decoded(eth, problem=_where(exc))
    if not ip.header_checksum_ok:
        return Decoded(eth, ip, problem="ipv4.checksum: the header checksum does not verify")
    if ip.frag_offset or ip.flags & FLAG_MF:
        return Decoded(eth, ip)  # a fragment: its transport header may be elsewhere
    return _transport(eth, ip)


def _transport(eth: Ethernet, ip: IPv4) -> Decoded:
    try:
        if ip.proto == PROTO_TCP:
            tcp = TcpSegment.parse(ip.payload)
            if not tcp_checksum_ok(ip.src, ip.dst, ip.payload):
                return Decoded(eth, ip, tcp, problem="tcp.checksum: does not verify")
            return Decoded(eth, ip, tcp)
        if ip.proto == PROTO_UDP:
            udp = Udp.parse(ip.payload)
            if not udp_checksum_ok(ip.src, ip.dst, ip.payload):
                return Decoded(eth, ip, udp=udp, problem="udp.checksum: does not verify")
            return Decoded(eth, ip, udp=udp)
    except WireError as exc:
        return Decoded(eth, ip, problem=_where(exc))
    return Decoded(eth, ip)


def _where(exc: WireError) -> str:
    return str(exc)
