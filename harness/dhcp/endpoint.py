"""What the reference DHCP server and client processes share: their sockets and their log."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

from reference_impl.dhcp.packets import DhcpPacket, decode
from reference_impl.wire.errors import WireError


def interface_mac(iface: str) -> str:
    return Path(f"/sys/class/net/{iface}/address").read_text().strip()


def open_sockets(iface: str, ethertype: int, port: int) -> tuple[socket.socket, socket.socket]:
    """A packet socket for ``ethertype`` frames on ``iface``, and a UDP socket bound to
    ``port`` on it. The UDP socket keeps the kernel from answering unicast DHCP with ICMP
    port unreachable; what it receives also reaches the packet socket."""
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ethertype))
    raw.bind((iface, ethertype))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    udp.bind(("0.0.0.0", port))
    return raw, udp


def incoming(who: str, frame: bytes, port: int) -> DhcpPacket | None:
    """The DHCP packet in ``frame`` if it is for ``port``, logged as received; a malformed
    one is logged and dropped."""
    try:
        packet = decode(frame)
    except WireError as exc:
        log(who, f"dropped a malformed DHCP frame: {exc}")
        return None
    if packet is None or packet.dport != port:
        return None
    log(who, f"<- {packet.summary()}")
    return packet


def log(who: str, text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {who}: {text}", file=sys.stderr, flush=True)
