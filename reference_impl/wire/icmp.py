"""ICMP messages (RFC 792): the header every message has, and the echo fields."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from reference_impl.wire.checksum import internet_checksum
from reference_impl.wire.errors import need

ECHO_REPLY, ECHO_REQUEST = 0, 8
DEST_UNREACHABLE, SOURCE_QUENCH = 3, 4
# Destination-unreachable codes (RFC 792, RFC 1122 3.2.2.1).
NET_UNREACHABLE, HOST_UNREACHABLE, PROTOCOL_UNREACHABLE, PORT_UNREACHABLE = 0, 1, 2, 3
FRAGMENTATION_NEEDED, SOURCE_ROUTE_FAILED = 4, 5
_HEADER = struct.Struct("!BBH")
_ECHO = struct.Struct("!HH")


@dataclass(frozen=True, slots=True)
class Icmp:
    type: int
    code: int
    rest: bytes  # the header's last four bytes: identifier and sequence number for echo
    payload: bytes = b""
    checksum_ok: bool = True  # as received

    @classmethod
    def parse(cls, data: bytes) -> Icmp:
        need(data, 8, "icmp", "header")
        kind, code, _csum = _HEADER.unpack_from(data)
        ok = internet_checksum(bytes(data)) == 0
        return cls(kind, code, bytes(data[4:8]), bytes(data[8:]), ok)

    def emit(self) -> bytes:
        body = self.rest + self.payload
        csum = internet_checksum(_HEADER.pack(self.type, self.code, 0) + body)
        return _HEADER.pack(self.type, self.code, csum) + body

    @property
    def ident(self) -> int:
        return int(_ECHO.unpack(self.rest)[0])

    @property
    def seq(self) -> int:
        return int(_ECHO.unpack(self.rest)[1])


def echo(kind: int, ident: int, seq: int, payload: bytes = b"") -> Icmp:
    """An echo request (``ECHO_REQUEST``) or reply (``ECHO_REPLY``)."""
    return Icmp(kind, 0, _ECHO.pack(ident, seq), payload)


def echo_reply_to(request: Icmp) -> Icmp:
    """RFC 792: the reply swaps nothing but the type; identifier, sequence number and data
    come back as they were (RFC 1122 3.2.2.6)."""
    return Icmp(ECHO_REPLY, 0, request.rest, request.payload)


def unreachable(code: int, quoted: bytes, *, mtu: int = 0) -> Icmp:
    """A destination-unreachable message quoting ``quoted`` (the offending datagram's IP
    header and at least 8 bytes after it); ``mtu`` is the next hop's, for code 4 (RFC 1191)."""
    return Icmp(DEST_UNREACHABLE, code, struct.pack("!HH", 0, mtu), quoted)


def next_hop_mtu(message: Icmp) -> int:
    """RFC 1191 4: the next-hop MTU of a fragmentation-needed message (0: not given)."""
    return int(struct.unpack("!HH", message.rest)[1])
