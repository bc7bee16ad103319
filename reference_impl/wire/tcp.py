"""TCP segments (RFC 9293 section 3.1) with options (3.2, RFC 7323, RFC 2018).

The hot path of the reference: struct-based, slotted frozen dataclasses, no Scapy.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reference_impl.wire.checksum import fold
from reference_impl.wire.errors import WireError, need
from reference_impl.wire.fast import fast_constructor
from reference_impl.wire.ipv4 import PROTO_TCP, ip_to_bytes

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = (1 << i for i in range(8))
# The four bits before the flag byte (RFC 9293 3.1: reserved; RFC 9768 makes the lowest the
# Accurate ECN "AE" flag) are kept in bits 8-11 of ``flags``, so that a segment re-emits as it
# came and a report can show them. A receiver ignores them (3.1).
AE = 1 << 8
RESERVED = 0xE00
FLAG_LETTERS = "FSRPAUECN"  # N: the AE bit (formerly NS), as Scapy names it
ECN_FLAGS = ECE | CWR | AE
_HEADER = struct.Struct("!HHIIBBHHH")


def flags_text(flags: int) -> str:
    """Letters for the set flags, e.g. "SA"; "r" marks a set reserved bit; "." for none."""
    text = "".join(letter for i, letter in enumerate(FLAG_LETTERS) if flags & (1 << i))
    return (text + ("r" if flags & RESERVED else "")) or "."


@dataclass(frozen=True, slots=True)
class Eol:
    KIND = 0


@dataclass(frozen=True, slots=True)
class Nop:
    KIND = 1


@dataclass(frozen=True, slots=True)
class Mss:
    value: int
    KIND = 2


@dataclass(frozen=True, slots=True)
class WindowScale:
    shift: int
    KIND = 3


@dataclass(frozen=True, slots=True)
class SackPermitted:
    KIND = 4


@dataclass(frozen=True, slots=True)
class Sack:
    blocks: tuple[tuple[int, int], ...]  # (left edge, right edge) absolute sequence numbers
    KIND = 5


@dataclass(frozen=True, slots=True)
class Timestamps:
    tsval: int
    tsecr: int
    KIND = 8


@dataclass(frozen=True, slots=True)
class UnknownOption:
    kind: int
    data: bytes


_NOP = Nop()
TcpOption = Eol | Nop | Mss | WindowScale | SackPermitted | Sack | Timestamps | UnknownOption
_FIXED_LENGTH = {2: 4, 3: 3, 4: 2, 8: 10}


_NOP_NOP_TS = b"\x01\x01\x08\x0a"
_ADDRESS_SUMS: dict[tuple[str, str], int] = {}


def _address_sum(src: str, dst: str) -> int:
    """The pseudo-header's words other than the length: addresses and protocol (RFC 9293 3.1)."""
    total = _ADDRESS_SUMS.get((src, dst))
    if total is None:
        raw_src, raw_dst = ip_to_bytes(src), ip_to_bytes(dst)
        if len(raw_src) != 4 or len(raw_dst) != 4:
            raise WireError("tcp", "address", f"bad pseudo-header address {src!r} or {dst!r}")
        total = int.from_bytes(raw_src + raw_dst, "big") + PROTO_TCP
        if len(_ADDRESS_SUMS) < 4096:
            _ADDRESS_SUMS[(src, dst)] = total
    return total


_TS = struct.Struct("!II")


def parse_options(data: bytes) -> tuple[TcpOption, ...]:
    """Decode an option list; illegal lengths raise WireError (RFC 9293 MUST-7)."""
    if len(data) == 12 and data[:4] == _NOP_NOP_TS:  # the common data-segment layout
        return (_NOP, _NOP, Timestamps(*_TS.unpack_from(data, 4)))
    options: list[TcpOption] = []
    i, end = 0, len(data)
    while i < end:
        kind = data[i]
        if kind == 0:
            options.append(Eol())
            break  # the rest is padding
        if kind == 1:
            options.append(_NOP)
            i += 1
            continue
        if i + 1 >= end:
            raise WireError("tcp", "options", f"option {kind} has no length byte")
        length = data[i + 1]
        if length < 2 or i + length > end:
            raise WireError("tcp", "options", f"option {kind} has illegal length {length}")
        if kind in _FIXED_LENGTH and length != _FIXED_LENGTH[kind]:
            raise WireError(
                "tcp", "options", f"option {kind} must be {_FIXED_LENGTH[kind]} bytes, is {length}"
            )
        body = data[i + 2 : i + length]
        options.append(_decode_option(kind, body))
        i += length
    return tuple(options)


def _decode_option(kind: int, body: bytes) -> TcpOption:
    if kind == 2:
        return Mss(int.from_bytes(body, "big"))
    if kind == 3:
        return WindowScale(body[0])
    if kind == 4:
        return SackPermitted()
    if kind == 5:
        if len(body) % 8:
            raise WireError("tcp", "options", f"SACK option body of {len(body)} bytes")
        words = struct.unpack(f"!{len(body) // 4}I", body)
        return Sack(tuple(zip(words[0::2], words[1::2], strict=True)))
    if kind == 8:
        tsval, tsecr = struct.unpack("!II", body)
        return Timestamps(tsval, tsecr)
    return UnknownOption(kind, bytes(body))


def _emit_sack(opt: Sack) -> bytes:
    return struct.pack(
        f"!BB{2 * len(opt.blocks)}I",
        5,
        2 + 8 * len(opt.blocks),
        *(edge for block in opt.blocks for edge in block),
    )


_EMITTERS: dict[type, Callable[[Any], bytes]] = {
    Eol: lambda _o: b"\x00",
    Nop: lambda _o: b"\x01",
    Mss: lambda o: struct.pack("!BBH", 2, 4, o.value),
    WindowScale: lambda o: struct.pack("!BBB", 3, 3, o.shift),
    SackPermitted: lambda _o: b"\x04\x02",
    Sack: _emit_sack,
    Timestamps: lambda o: struct.pack("!BBII", 8, 10, o.tsval, o.tsecr),
    UnknownOption: lambda o: struct.pack("!BB", o.kind, 2 + len(o.data)) + o.data,
}


def emit_options(options: tuple[TcpOption, ...]) -> bytes:
    """Encode options and pad with zeros to a 32-bit boundary (MUST-69)."""
    if len(options) == 3:  # the common layout, checked by type (cheaper than equality)
        first, second, third = options
        if type(first) is Nop and type(second) is Nop and type(third) is Timestamps:
            return _NOP_NOP_TS + _TS.pack(third.tsval, third.tsecr)
    out = b"".join([_EMITTERS[type(opt)](opt) for opt in options])
    if len(out) > 40:
        raise WireError("tcp", "options", f"{len(out)} bytes of options exceed 40")
    return out + b"\x00" * (-len(out) % 4)


@dataclass(frozen=True, slots=True)
class TcpSegment:
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    window: int
    payload: bytes = b""
    options: tuple[TcpOption, ...] = field(default=())
    urgent: int = 0
    checksum: int = 0  # as received (emit computes its own)

    @classmethod
    def parse(cls, data: bytes) -> TcpSegment:
        need(data, 20, "tcp", "header")
        sport, dport, seq, ack, offset, flags, window, checksum, urgent = _HEADER.unpack_from(data)
        header_len = (offset >> 4) * 4
        flags |= (offset & 0x0F) << 8  # AE and the reserved bits
        if header_len < 20:
            raise WireError("tcp", "data_offset", f"header length {header_len} is below 20")
        need(data, header_len, "tcp", "data_offset")
        options = parse_options(data[20:header_len]) if header_len > 20 else ()
        return build_segment(
            sport,
            dport,
            seq,
            ack,
            flags,
            window,
            bytes(data[header_len:]),
            options,
            urgent,
            checksum,
        )

    def emit(self, src: str, dst: str) -> bytes:
        header, payload = self._header(), self.payload
        # The one's-complement sum of even-length pieces laid end to end is the sum of the
        # pieces' sums (mod 0xFFFF): pseudo-header (cached per address pair), header, payload.
        total = _address_sum(src, dst) + len(header) + len(payload)
        total += int.from_bytes(header, "big")
        total += int.from_bytes(payload + b"\x00" if len(payload) & 1 else payload, "big")
        csum = ~fold(total) & 0xFFFF
        return b"".join((header[:16], csum.to_bytes(2, "big"), header[18:], payload))

    def emit_for_checksum_offload(self, src: str, dst: str) -> bytes:
        """The segment for a device that completes the checksum (virtio-net's NEEDS_CSUM, as
        Linux's CHECKSUM_PARTIAL): the field holds the pseudo-header's sum, uncomplemented;
        the device adds the segment's words to it and stores the complement, which is
        exactly what ``emit`` computes."""
        header, payload = self._header(), self.payload
        partial = fold(_address_sum(src, dst) + len(header) + len(payload))
        return b"".join((header[:16], partial.to_bytes(2, "big"), header[18:], payload))

    def _header(self) -> bytes:
        """The header with options and a zero checksum."""
        opts = emit_options(self.options) if self.options else b""
        return (
            _HEADER.pack(
                self.sport,
                self.dport,
                self.seq,
                self.ack,
                ((20 + len(opts)) << 2) | (self.flags >> 8 & 0x0F),
                self.flags & 0xFF,
                self.window,
                0,
                self.urgent,
            )
            + opts
        )

    @property
    def seg_len(self) -> int:
        """SEG.LEN: the data plus one for each of SYN and FIN (RFC 9293 3.4)."""
        return len(self.payload) + (1 if self.flags & SYN else 0) + (1 if self.flags & FIN else 0)

    def option(self, kind: type[TcpOption]) -> TcpOption | None:
        for opt in self.options:
            if isinstance(opt, kind):
                return opt
        return None

    def describe(self) -> str:
        return (
            f"{self.sport}>{self.dport} [{flags_text(self.flags)}] seq={self.seq} ack={self.ack} "
            f"win={self.window} len={len(self.payload)}"
        )


# TcpSegment(...) without the frozen dataclass's per-field checks: every argument, in
# field order (hot paths: parsing, and the segments a connection sends).
build_segment = fast_constructor(TcpSegment)


def segmented(seg: TcpSegment, size: int) -> list[TcpSegment]:
    """``seg`` cut into segments of ``size`` bytes of payload (the last may be shorter), as
    a TCP segmentation offload cuts one (Linux's tcp_gso_segment): the same header but for
    the sequence number, CWR on the first segment only, PSH and FIN on the last only. Cut
    with the size the receive offload (GRO) reports, a frame it merged gives back exactly
    the segments it merged: it merges only contiguous segments whose headers differ in
    nothing else (and none with URG, SYN or RST)."""
    payload = seg.payload
    count = -(-len(payload) // size)
    if count <= 1:
        return [seg]
    pieces = []
    for k in range(count):
        flags = seg.flags & ~CWR if k else seg.flags
        if k < count - 1:
            flags &= ~(PSH | FIN)
        pieces.append(
            build_segment(
                seg.sport,
                seg.dport,
                (seg.seq + k * size) & 0xFFFFFFFF,
                seg.ack,
                flags,
                seg.window,
                payload[k * size : (k + 1) * size],
                seg.options,
                seg.urgent,
                seg.checksum,
            )
        )
    return pieces


def tcp_checksum_ok(src: str, dst: str, data: bytes) -> bool:
    """True if the segment's checksum verifies against the pseudo-header (MUST-3): the
    one's-complement sum of pseudo-header and segment is all ones. Summed piece by piece as
    ``emit`` does (no pseudo-header joined to a copy of the segment, once per segment)."""
    try:
        total = _address_sum(src, dst) + len(data)
    except WireError:
        return False  # not an address: nothing verifies against it
    total += int.from_bytes(data + b"\x00" if len(data) & 1 else data, "big")
    return fold(total) == 0xFFFF
