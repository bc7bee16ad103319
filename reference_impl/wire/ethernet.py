"""Ethernet II frames (no VLAN tags)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from reference_impl.wire.errors import WireError, need
from reference_impl.wire.fast import fast_constructor

ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
BROADCAST = "ff:ff:ff:ff:ff:ff"
_HEADER = struct.Struct("!6s6sH")


_TO_BYTES: dict[str, bytes] = {}
_TO_TEXT: dict[bytes, str] = {}


def mac_to_bytes(mac: str) -> bytes:
    raw = _TO_BYTES.get(mac)
    if raw is not None:
        return raw
    try:
        raw = bytes.fromhex(mac.replace(":", ""))
    except ValueError:
        raw = b""
    if len(raw) != 6:
        raise WireError("ethernet", "mac", f"not a MAC address: {mac!r}")
    if len(_TO_BYTES) < 4096:
        _TO_BYTES[mac] = raw
    return raw


def bytes_to_mac(raw: bytes) -> str:
    text = _TO_TEXT.get(raw)
    if text is None:
        text = raw.hex(":")
        if len(_TO_TEXT) < 4096:
            _TO_TEXT[raw] = text
    return text


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
        return _build_ethernet(bytes_to_mac(dst), bytes_to_mac(src), ethertype, data[14:])

    def emit(self) -> bytes:
        return (
            _HEADER.pack(mac_to_bytes(self.dst), mac_to_bytes(self.src), self.ethertype)
            + self.payload
        )


_build_ethernet = fast_constructor(Ethernet)
