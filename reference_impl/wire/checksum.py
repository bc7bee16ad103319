"""The Internet checksum (RFC 1071), and the TCP/UDP pseudo-header sum.

Summing 16-bit words is done as one big-integer modulo 0xFFFF: since 2**16 = 1 (mod 0xFFFF),
a big-endian integer made of the words is congruent to their sum, which is the
one's-complement sum up to the representation of zero. That is several times faster in
pure Python than a loop over the words.
"""

from __future__ import annotations

import struct


def fold(value: int) -> int:
    """Reduce a big-endian integer made of 16-bit words to their one's-complement sum."""
    total = value % 0xFFFF
    if total == 0 and value:
        return 0xFFFF  # a non-zero sum that is a multiple of 0xFFFF is 0xFFFF ("negative zero")
    return total


def ones_complement_sum(data: bytes) -> int:
    """The 16-bit one's-complement sum of ``data`` (odd length padded with a zero byte)."""
    if len(data) & 1:
        data += b"\x00"
    return fold(int.from_bytes(data, "big"))


def internet_checksum(data: bytes) -> int:
    """RFC 1071: the complement of the one's-complement sum."""
    return ~ones_complement_sum(data) & 0xFFFF


def pseudo_header(src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    """The IPv4 pseudo-header of RFC 9293 section 3.1 (and RFC 768 for UDP)."""
    return src + dst + struct.pack("!BBH", 0, proto, length)


def transport_checksum(src: bytes, dst: bytes, proto: int, segment: bytes) -> int:
    return internet_checksum(pseudo_header(src, dst, proto, len(segment)) + segment)
