"""IPv4 headers (RFC 791): fields, options kept as bytes, header checksum."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from reference_impl.wire.checksum import internet_checksum
from reference_impl.wire.errors import WireError, need
from reference_impl.wire.fast import fast_constructor

PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
FLAG_DF = 0x2
FLAG_MF = 0x1
_HEADER = struct.Struct("!BBHHHBBH4s4s")


# A host sees few distinct addresses: remembering the conversions keeps them off the hot path.
_TO_BYTES: dict[str, bytes] = {}
_TO_TEXT: dict[bytes, str] = {}
_CACHE_LIMIT = 4096


def ip_to_bytes(ip: str) -> bytes:
    """Dotted quad to 4 bytes; b"" if it is not one (callers raise their own WireError)."""
    raw = _TO_BYTES.get(ip)
    if raw is None:
        parts = ip.split(".")
        if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
            return b""
        raw = bytes(int(p) for p in parts)
        if len(_TO_BYTES) >= _CACHE_LIMIT:
            _TO_BYTES.clear()
        _TO_BYTES[ip] = raw
    return raw


def bytes_to_ip(raw: bytes) -> str:
    text = _TO_TEXT.get(raw)
    if text is None:
        text = "%d.%d.%d.%d" % tuple(raw[:4])  # noqa: UP031  (the fastest spelling)
        if len(_TO_TEXT) >= _CACHE_LIMIT:
            _TO_TEXT.clear()
        _TO_TEXT[bytes(raw)] = text
    return text


@dataclass(frozen=True, slots=True)
class IPv4:
    src: str
    dst: str
    proto: int
    payload: bytes
    ttl: int = 64
    ident: int = 0
    flags: int = FLAG_DF
    frag_offset: int = 0
    tos: int = 0
    options: bytes = b""
    header_checksum_ok: bool = True

    @classmethod
    def parse(cls, data: bytes) -> IPv4:
        need(data, 20, "ipv4", "header")
        ver_ihl, tos, total, ident, flags_frag, ttl, proto, _csum, src, dst = _HEADER.unpack_from(
            data
        )
        if ver_ihl >> 4 != 4:
            raise WireError("ipv4", "version", f"{ver_ihl >> 4} is not 4")
        ihl = (ver_ihl & 0x0F) * 4
        if ihl < 20:
            raise WireError("ipv4", "ihl", f"header length {ihl} is below 20")
        if total < ihl:
            raise WireError("ipv4", "total_length", f"{total} is shorter than the header ({ihl})")
        need(data, total, "ipv4", "total_length")
        return _build_ipv4(
            bytes_to_ip(src),
            bytes_to_ip(dst),
            proto,
            bytes(data[ihl:total]),
            ttl,
            ident,
            flags_frag >> 13,
            flags_frag & 0x1FFF,
            tos,
            bytes(data[20:ihl]),
            internet_checksum(bytes(data[:ihl])) == 0,
        )

    @classmethod
    def parse_quoted(cls, data: bytes) -> IPv4:
        """The start of a datagram an ICMP error quotes (RFC 792): its header whole and as
        much of its payload as was quoted (RFC 1122 3.2.2: at least 8 bytes). The header
        checksum is not judged: the total length it covers was cut."""
        need(data, 20, "ipv4", "header")
        cut = bytearray(data[: struct.unpack_from("!H", data, 2)[0]])
        cut[2:4] = len(cut).to_bytes(2, "big")
        return cls.parse(bytes(cut))

    def emit(self) -> bytes:
        if len(self.options) % 4:
            raise WireError("ipv4", "options", "length must be a multiple of 4")
        src, dst = ip_to_bytes(self.src), ip_to_bytes(self.dst)
        if len(src) != 4 or len(dst) != 4:
            raise WireError("ipv4", "address", f"bad address {self.src!r} or {self.dst!r}")
        return packet_bytes(
            src,
            dst,
            self.proto,
            self.payload,
            ttl=self.ttl,
            ident=self.ident,
            flags=self.flags,
            frag_offset=self.frag_offset,
            tos=self.tos,
            options=self.options,
        )


def packet_bytes(
    src: bytes,
    dst: bytes,
    proto: int,
    payload: bytes,
    *,
    ttl: int = 64,
    ident: int = 0,
    flags: int = FLAG_DF,
    frag_offset: int = 0,
    tos: int = 0,
    options: bytes = b"",
) -> bytes:
    """A datagram from 4-byte addresses, header checksum filled in: what ``IPv4.emit``
    writes, without making an IPv4 object (a host's send path, once per segment)."""
    ihl = 20 + len(options)
    header = (
        _HEADER.pack(
            0x40 | ihl // 4,
            tos,
            ihl + len(payload),
            ident,
            (flags << 13) | frag_offset,
            ttl,
            proto,
            0,
            src,
            dst,
        )
        + options
    )
    csum = internet_checksum(header)
    return header[:10] + csum.to_bytes(2, "big") + header[12:] + payload


_build_ipv4 = fast_constructor(IPv4)
