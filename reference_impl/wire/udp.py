"""UDP datagrams (RFC 768)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from reference_impl.wire.checksum import transport_checksum
from reference_impl.wire.errors import WireError, need
from reference_impl.wire.ipv4 import PROTO_UDP, ip_to_bytes

_HEADER = struct.Struct("!HHHH")


@dataclass(frozen=True, slots=True)
class Udp:
    sport: int
    dport: int
    payload: bytes
    checksum: int = 0  # as received; 0 means the sender computed none

    @classmethod
    def parse(cls, data: bytes) -> Udp:
        need(data, 8, "udp", "header")
        sport, dport, length, checksum = _HEADER.unpack_from(data)
        if length < 8:
            raise WireError("udp", "length", f"{length} is below the header size")
        need(data, length, "udp", "length")
        return cls(sport, dport, bytes(data[8:length]), checksum)

    def emit(self, src: str, dst: str) -> bytes:
        raw = _HEADER.pack(self.sport, self.dport, 8 + len(self.payload), 0) + self.payload
        csum = transport_checksum(ip_to_bytes(src), ip_to_bytes(dst), PROTO_UDP, raw) or 0xFFFF
        return raw[:6] + csum.to_bytes(2, "big") + raw[8:]


def udp_checksum_ok(src: str, dst: str, data: bytes) -> bool:
    if len(data) >= 8 and data[6:8] == b"\x00\x00":
        return True  # no checksum was sent
    return transport_checksum(ip_to_bytes(src), ip_to_bytes(dst), PROTO_UDP, data) == 0
