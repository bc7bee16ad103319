"""Ethernet II frames (no VLAN tags)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from reference_impl.wire.errors import WireError, need

ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
BROADCAST = "ff:ff:ff:ff:ff:ff"
_HEADER = struct.Struct("!6s6sH")


def mac_to_bytes(mac: str) -> bytes:
    try:
        raw = bytes.fromhex(mac.replace(":", ""))
    except ValueError:
        raw = b""
    if len(raw) != 6:
        raise WireError("ethernet", "mac", f"not a MAC address: {mac!r}")
    return raw


@dataclass(frozen=True, slots=True)
class Ethernet:
    dst: str
    src: str
    ethertype: int
    payload: bytes

    @classmethod
    def parse(cls, data: bytes) -> Ethernet:
        need(data, 14, "ethernet", "header")
        dst, src, ethertype = _HEADER.unpack_from(data)
        return cls(dst.hex(":"), src.hex(":"), ethertype, bytes(data[14:]))

    def emit(self) -> bytes:
        return (
            _HEADER.pack(mac_to_bytes(self.dst), mac_to_bytes(self.src), self.ethertype)
            + self.payload
        )
