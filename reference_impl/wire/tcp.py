"""TCP segments (RFC 9293 section 3.1) with options (3.2, RFC 7323, RFC 2018).

The hot path of the reference: struct-based, slotted frozen dataclasses, no Scapy.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from reference_impl.wire.checksum import transport_checksum
from reference_impl.wire.errors import WireError, need
from reference_impl.wire.ipv4 import PROTO_TCP, ip_to_bytes

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = (1 << i for i in range(8))
FLAG_LETTERS = "FSRPAUEC"
_HEADER = struct.Struct("!HHIIBBHHH")


def flags_text(flags: int) -> str:
    return "".join(letter for i, letter in enumerate(FLAG_LETTERS) if flags & (1 << i)) or "."


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


TcpOption = Eol | Nop | Mss | WindowScale | SackPermitted | Sack | Timestamps | UnknownOption
_FIXED_LENGTH = {2: 4, 3: 3, 4: 2, 8: 10}


def parse_options(data: bytes) -> tuple[TcpOption, ...]:
    """Decode an option list; illegal lengths raise WireError (RFC 9293 MUST-7)."""
    options: list[TcpOption] = []
    i, end = 0, len(data)
    while i < end:
        kind = data[i]
        if kind == 0:
            options.append(Eol())
            break  # the rest is padding
        if kind == 1:
            options.append(Nop())
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


def emit_options(options: tuple[TcpOption, ...]) -> bytes:
    """Encode options and pad with zeros to a 32-bit boundary (MUST-69)."""
    out = bytearray()
    for opt in options:
        if isinstance(opt, Eol):
            out.append(0)
        elif isinstance(opt, Nop):
            out.append(1)
        elif isinstance(opt, Mss):
            out += struct.pack("!BBH", 2, 4, opt.value)
        elif isinstance(opt, WindowScale):
            out += struct.pack("!BBB", 3, 3, opt.shift)
        elif isinstance(opt, SackPermitted):
            out += b"\x04\x02"
        elif isinstance(opt, Sack):
            out += struct.pack("!BB", 5, 2 + 8 * len(opt.blocks))
            for left, right in opt.blocks:
                out += struct.pack("!II", left, right)
        elif isinstance(opt, Timestamps):
            out += struct.pack("!BBII", 8, 10, opt.tsval, opt.tsecr)
        else:
            out += struct.pack("!BB", opt.kind, 2 + len(opt.data)) + opt.data
    if len(out) > 40:
        raise WireError("tcp", "options", f"{len(out)} bytes of options exceed 40")
    out += b"\x00" * (-len(out) % 4)
    return bytes(out)


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
        if header_len < 20:
            raise WireError("tcp", "data_offset", f"header length {header_len} is below 20")
        need(data, header_len, "tcp", "data_offset")
        options = parse_options(bytes(data[20:header_len])) if header_len > 20 else ()
        return cls(
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
        opts = emit_options(self.options) if self.options else b""
        header = _HEADER.pack(
            self.sport,
            self.dport,
            self.seq,
            self.ack,
            (20 + len(opts)) // 4 << 4,
            self.flags,
            self.window,
            0,
            self.urgent,
        )
        raw = header + opts + self.payload
        csum = transport_checksum(ip_to_bytes(src), ip_to_bytes(dst), PROTO_TCP, raw)
        return raw[:16] + csum.to_bytes(2, "big") + raw[18:]

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


def tcp_checksum_ok(src: str, dst: str, data: bytes) -> bool:
    """True if the segment's checksum verifies against the pseudo-header (MUST-3)."""
    return transport_checksum(ip_to_bytes(src), ip_to_bytes(dst), PROTO_TCP, data) == 0
