"""Ways to break a TCP/IPv4 frame that a real stack has been seen to produce, each undone by
nothing: the harness must show and judge the frame as malformed (tests/test_malformed.py)."""

from __future__ import annotations

import struct

IP = 14  # the IPv4 header's offset in an Ethernet frame
TCP = IP + 20  # the TCP header's, with no IP options


def _ip_checksum(frame: bytearray) -> None:
    frame[IP + 10] ^= 0xFF


def _ihl_4(frame: bytearray) -> None:
    frame[IP] = 0x44


def _total_length(frame: bytearray) -> None:
    total = struct.unpack_from("!H", frame, IP + 2)[0]
    struct.pack_into("!H", frame, IP + 2, total + 100)


def _version_6(frame: bytearray) -> None:
    frame[IP] = (frame[IP] & 0x0F) | 0x60


def _tcp_checksum(frame: bytearray) -> None:
    frame[TCP + 16] ^= 0xFF


def tcp_checksum_if_odd(frame: bytearray) -> None:
    """The checksum of a segment whose payload has an odd length, computed without the pad
    byte RFC 9293 3.1 adds (the classic checksum bug); other segments are left intact."""
    ihl = (frame[IP] & 0x0F) * 4
    total = struct.unpack_from("!H", frame, IP + 2)[0]
    offset = (frame[IP + ihl + 12] >> 4) * 4
    if (total - ihl - offset) % 2:
        frame[IP + ihl + 16] ^= 0xFF


def _tcp_offset(words: int):
    def breaks(frame: bytearray) -> None:
        frame[TCP + 12] = (words << 4) | (frame[TCP + 12] & 0x0F)

    return breaks


def _first_option(length: int, kind: int | None = None):
    """The first TCP option (an MSS in a SYN-ACK) gets another kind and length."""

    def breaks(frame: bytearray) -> None:
        if (frame[TCP + 12] >> 4) > 5:
            if kind is not None:
                frame[TCP + 20] = kind
            frame[TCP + 21] = length

    return breaks


BREAKS = {
    "ip-checksum": (_ip_checksum, "ipv4.checksum"),
    "tcp-checksum": (_tcp_checksum, "tcp.checksum"),
    "ihl-4": (_ihl_4, "ipv4.ihl"),
    "total-length": (_total_length, "ipv4.total_length"),
    "version-6": (_version_6, "ipv4.version"),
    "tcp-offset-0": (_tcp_offset(0), "tcp.data_offset"),
    "tcp-offset-4": (_tcp_offset(4), "tcp.data_offset"),
    "option-length-0": (_first_option(0), "tcp.options"),
    "sack-length-3": (_first_option(3, kind=5), "tcp.options"),
}


def malform(frame: bytes, kind: str) -> bytes:
    broken = bytearray(frame)
    BREAKS[kind][0](broken)
    return bytes(broken)
