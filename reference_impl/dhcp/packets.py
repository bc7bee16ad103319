"""DHCP messages as they cross an Ethernet link: in UDP (ports 67/68), in IPv4, in a frame
(RFC 2131 section 4.1), and the ARP frames a DHCP client and server exchange around them."""

from __future__ import annotations

from dataclasses import dataclass

from reference_impl.wire import arp
from reference_impl.wire.dhcp import MESSAGE_TYPE_NAMES, DhcpMessage
from reference_impl.wire.errors import WireError
from reference_impl.wire.ethernet import BROADCAST, ETH_P_ARP, ETH_P_IP, Ethernet
from reference_impl.wire.ipv4 import FLAG_DF, PROTO_UDP, IPv4
from reference_impl.wire.udp import Udp, udp_checksum_ok

SERVER_PORT, CLIENT_PORT = 67, 68
DHCP_TTL = 64


@dataclass(frozen=True, slots=True)
class DhcpPacket:
    """One DHCP message with the addresses it was (or is to be) carried with."""

    message: DhcpMessage
    eth_src: str
    eth_dst: str
    ip_src: str
    ip_dst: str
    sport: int
    dport: int

    @property
    def kind(self) -> str:
        return MESSAGE_TYPE_NAMES.get(self.message.message_type or 0, "BOOTP")

    def short(self) -> str:
        """The summary without the DHCP prefix and the xid (for ladder diagrams)."""
        msg = self.message
        parts = [self.kind.removeprefix("DHCP"), f"{self.ip_src} -> {self.ip_dst}"]
        parts += [
            f"{name}={getattr(msg, name)}"
            for name in ("ciaddr", "yiaddr", "giaddr")
            if getattr(msg, name) != "0.0.0.0"
        ]
        return " ".join(parts) + (" [B]" if msg.flags & 0x8000 else "")

    def summary(self) -> str:
        msg = self.message
        parts = [self.kind, f"xid=0x{msg.xid:08x}", f"{self.ip_src} -> {self.ip_dst}"]
        for name in ("ciaddr", "yiaddr", "giaddr"):
            value = getattr(msg, name)
            if value != "0.0.0.0":
                parts.append(f"{name}={value}")
        if msg.flags & 0x8000:
            parts.append("flags=B")
        return " ".join(parts)


def encode(packet: DhcpPacket) -> bytes:
    udp = Udp(packet.sport, packet.dport, packet.message.emit()).emit(packet.ip_src, packet.ip_dst)
    ip = IPv4(packet.ip_src, packet.ip_dst, PROTO_UDP, udp, ttl=DHCP_TTL, flags=FLAG_DF)
    return Ethernet(packet.eth_dst, packet.eth_src, ETH_P_IP, ip.emit()).emit()


def decode(frame: bytes) -> DhcpPacket | None:
    """The DHCP packet in a frame; None for any other frame. A frame on the DHCP ports
    whose UDP checksum or DHCP body is broken raises WireError."""
    try:
        eth = Ethernet.parse(frame)
        if eth.ethertype != ETH_P_IP:
            return None
        ip = IPv4.parse(eth.payload)
        if ip.proto != PROTO_UDP or ip.frag_offset:
            return None
        udp = Udp.parse(ip.payload)
    except WireError:
        return None
    if {udp.sport, udp.dport} - {SERVER_PORT, CLIENT_PORT} or udp.sport == udp.dport == 68:
        return None
    if not udp_checksum_ok(ip.src, ip.dst, ip.payload):
        raise WireError("udp", "checksum", f"bad UDP checksum from {ip.src}")
    message = DhcpMessage.parse(udp.payload)
    return DhcpPacket(message, eth.src, eth.dst, ip.src, ip.dst, udp.sport, udp.dport)


def arp_frame(op: int, src_mac: str, src_ip: str, dst_mac: str, dst_ip: str) -> bytes:
    """A request goes to broadcast with an all-zero target MAC; a reply to ``dst_mac``."""
    eth_dst = BROADCAST if op == arp.REQUEST else dst_mac
    target_mac = "00:00:00:00:00:00" if op == arp.REQUEST else dst_mac
    body = arp.Arp(op, src_mac, src_ip, target_mac, dst_ip).emit()
    return Ethernet(eth_dst, src_mac, ETH_P_ARP, body).emit()


def decode_arp(frame: bytes) -> arp.Arp | None:
    try:
        eth = Ethernet.parse(frame)
        return arp.Arp.parse(eth.payload) if eth.ethertype == ETH_P_ARP else None
    except WireError:
        return None
