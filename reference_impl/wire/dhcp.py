"""DHCP/BOOTP messages (RFC 2131 section 2, options per RFC 2132)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from reference_impl.wire.errors import WireError, need
from reference_impl.wire.ipv4 import bytes_to_ip, ip_to_bytes

BOOTREQUEST, BOOTREPLY = 1, 2
MAGIC_COOKIE = b"\x63\x82\x53\x63"
FLAG_BROADCAST = 0x8000
MIN_MESSAGE = 300  # BOOTP's minimum; some relays and clients drop shorter messages

# Option codes (RFC 2132)
PAD, END = 0, 255
SUBNET_MASK, ROUTER, DNS_SERVERS, HOSTNAME = 1, 3, 6, 12
REQUESTED_IP, LEASE_TIME, OVERLOAD, MESSAGE_TYPE, SERVER_ID = 50, 51, 52, 53, 54
PARAMETER_LIST, MESSAGE, MAX_MESSAGE_SIZE, RENEWAL_T1, REBINDING_T2 = 55, 56, 57, 58, 59
CLIENT_ID = 61

# Message types (option 53)
DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM = range(1, 9)
MESSAGE_TYPE_NAMES = {
    DISCOVER: "DHCPDISCOVER",
    OFFER: "DHCPOFFER",
    REQUEST: "DHCPREQUEST",
    DECLINE: "DHCPDECLINE",
    ACK: "DHCPACK",
    NAK: "DHCPNAK",
    RELEASE: "DHCPRELEASE",
    INFORM: "DHCPINFORM",
}

_FIXED = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s")


_ip = bytes_to_ip


def _raw_ip(ip: str, fieldname: str) -> bytes:
    raw = ip_to_bytes(ip)
    if len(raw) != 4:
        raise WireError("dhcp", fieldname, f"not an IPv4 address: {ip!r}")
    return raw


@dataclass(frozen=True, slots=True)
class DhcpMessage:
    op: int
    xid: int
    chaddr: str  # client hardware address, as aa:bb:cc:dd:ee:ff
    options: tuple[tuple[int, bytes], ...] = ()
    secs: int = 0
    flags: int = 0
    ciaddr: str = "0.0.0.0"
    yiaddr: str = "0.0.0.0"
    siaddr: str = "0.0.0.0"
    giaddr: str = "0.0.0.0"
    hops: int = 0
    sname: bytes = b""
    file: bytes = b""
    htype: int = 1
    hlen: int = 6

    @classmethod
    def parse(cls, data: bytes) -> DhcpMessage:
        need(data, _FIXED.size + 4, "dhcp", "header")
        (
            op,
            htype,
            hlen,
            hops,
            xid,
            secs,
            flags,
            ciaddr,
            yiaddr,
            siaddr,
            giaddr,
            chaddr,
            sname,
            file,
        ) = _FIXED.unpack_from(data)
        if op not in (BOOTREQUEST, BOOTREPLY):
            raise WireError("dhcp", "op", f"{op} is neither BOOTREQUEST nor BOOTREPLY")
        if hlen > 16:
            raise WireError("dhcp", "hlen", f"{hlen} exceeds the 16-byte chaddr field")
        if data[_FIXED.size : _FIXED.size + 4] != MAGIC_COOKIE:
            raise WireError("dhcp", "cookie", "missing the DHCP magic cookie")
        options = parse_options(bytes(data[_FIXED.size + 4 :]))
        return cls(
            op,
            xid,
            chaddr[:hlen].hex(":"),
            options,
            secs,
            flags,
            _ip(ciaddr),
            _ip(yiaddr),
            _ip(siaddr),
            _ip(giaddr),
            hops,
            sname.rstrip(b"\x00"),
            file.rstrip(b"\x00"),
            htype,
            hlen,
        )

    def emit(self) -> bytes:
        try:
            chaddr = bytes.fromhex(self.chaddr.replace(":", ""))
        except ValueError as exc:
            raise WireError("dhcp", "chaddr", f"not a hardware address: {self.chaddr!r}") from exc
        fixed = _FIXED.pack(
            self.op,
            self.htype,
            len(chaddr) if chaddr else self.hlen,
            self.hops,
            self.xid,
            self.secs,
            self.flags,
            _raw_ip(self.ciaddr, "ciaddr"),
            _raw_ip(self.yiaddr, "yiaddr"),
            _raw_ip(self.siaddr, "siaddr"),
            _raw_ip(self.giaddr, "giaddr"),
            chaddr,
            self.sname,
            self.file,
        )
        body = fixed + MAGIC_COOKIE + emit_options(self.options)
        return body + b"\x00" * max(0, MIN_MESSAGE - len(body))

    def option(self, code: int) -> bytes | None:
        for c, value in self.options:
            if c == code:
                return value
        return None

    @property
    def message_type(self) -> int | None:
        value = self.option(MESSAGE_TYPE)
        return value[0] if value and len(value) == 1 else None

    def option_ip(self, code: int) -> str | None:
        value = self.option(code)
        return _ip(value) if value is not None and len(value) == 4 else None

    def option_u32(self, code: int) -> int | None:
        value = self.option(code)
        return int.from_bytes(value, "big") if value is not None and len(value) == 4 else None


def parse_options(data: bytes) -> tuple[tuple[int, bytes], ...]:
    options: list[tuple[int, bytes]] = []
    i = 0
    while i < len(data):
        code = data[i]
        if code == PAD:
            i += 1
            continue
        if code == END:
            break
        if i + 1 >= len(data):
            raise WireError("dhcp", "options", f"option {code} has no length byte")
        length = data[i + 1]
        if i + 2 + length > len(data):
            raise WireError("dhcp", "options", f"option {code} runs past the end ({length} bytes)")
        options.append((code, bytes(data[i + 2 : i + 2 + length])))
        i += 2 + length
    return tuple(options)


def emit_options(options: tuple[tuple[int, bytes], ...]) -> bytes:
    out = bytearray()
    for code, value in options:
        if not 0 < code < 255:
            raise WireError("dhcp", "options", f"option code {code} cannot carry a value")
        if len(value) > 255:
            raise WireError("dhcp", "options", f"option {code} value of {len(value)} bytes")
        out += bytes((code, len(value))) + value
    return bytes(out) + bytes((END,))
