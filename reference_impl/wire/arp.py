"""ARP for IPv4 over Ethernet (RFC 826)."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from reference_impl.wire.errors import WireError, need
from reference_impl.wire.ethernet import mac_to_bytes

REQUEST = 1
REPLY = 2
_BODY = struct.Struct("!HHBBH6s4s6s4s")


@dataclass(frozen=True, slots=True)
class Arp:
    op: int
    sender_mac: str
    sender_ip: str
    target_mac: str
    target_ip: str

    @classmethod
    def parse(cls, data: bytes) -> Arp:
        need(data, _BODY.size, "arp", "body")
        htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _BODY.unpack_from(data)
        if (htype, ptype, hlen, plen) != (1, 0x0800, 6, 4):
            raise WireError("arp", "htype", "only IPv4 over Ethernet is supported")
        return cls(op, sha.hex(":"), socket.inet_ntoa(spa), tha.hex(":"), socket.inet_ntoa(tpa))

    def emit(self) -> bytes:
        return _BODY.pack(
            1,
            0x0800,
            6,
            4,
            self.op,
            mac_to_bytes(self.sender_mac),
            socket.inet_aton(self.sender_ip),
            mac_to_bytes(self.target_mac),
            socket.inet_aton(self.target_ip),
        )
