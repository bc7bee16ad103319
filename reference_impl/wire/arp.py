"""ARP for IPv4 over Ethernet (RFC 826)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from reference_impl.wire.errors import WireError, need
from reference_impl.wire.ethernet import mac_to_bytes
from reference_impl.wire.ipv4 import bytes_to_ip, ip_to_bytes

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
        return cls(op, sha.hex(":"), bytes_to_ip(spa), tha.hex(":"), bytes_to_ip(tpa))

    def emit(self) -> bytes:
        spa, tpa = ip_to_bytes(self.sender_ip), ip_to_bytes(self.target_ip)
        if len(spa) != 4 or len(tpa) != 4:
            raise WireError(
                "arp", "address", f"bad address {self.sender_ip!r} or {self.target_ip!r}"
            )
        return _BODY.pack(
            1,
            0x0800,
            6,
            4,
            self.op,
            mac_to_bytes(self.sender_mac),
            spa,
            mac_to_bytes(self.target_mac),
            tpa,
        )
