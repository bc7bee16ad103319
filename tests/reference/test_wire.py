"""The wire codec: round trips, checksums, and one typed error for every malformed input."""

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_impl.wire.arp import REQUEST, Arp
from reference_impl.wire.checksum import internet_checksum
from reference_impl.wire.dhcp import (
    BOOTREQUEST,
    DISCOVER,
    MESSAGE_TYPE,
    REQUESTED_IP,
    DhcpMessage,
)
from reference_impl.wire.errors import WireError
from reference_impl.wire.ethernet import ETH_P_IP, Ethernet
from reference_impl.wire.ipv4 import PROTO_TCP, IPv4
from reference_impl.wire.tcp import (
    ACK,
    SYN,
    Eol,
    Mss,
    Nop,
    Sack,
    SackPermitted,
    TcpSegment,
    Timestamps,
    UnknownOption,
    WindowScale,
    parse_options,
    tcp_checksum_ok,
)
from reference_impl.wire.udp import Udp, udp_checksum_ok

SRC, DST = "198.18.0.1", "198.18.0.2"


def slow_checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@given(st.binary(max_size=1500))
def test_checksum_matches_the_word_by_word_definition(data):
    assert internet_checksum(data) == slow_checksum(data)


def test_tcp_round_trip_with_every_option_kind():
    options = (
        Mss(1460),
        Nop(),
        WindowScale(7),
        SackPermitted(),
        Timestamps(1, 2),
        Sack(((100, 200),)),
        UnknownOption(30, b"\x01\x02"),
        Eol(),
    )
    seg = TcpSegment(1234, 80, 2**32 - 5, 77, SYN | ACK, 65535, b"payload", options)
    raw = seg.emit(SRC, DST)
    assert tcp_checksum_ok(SRC, DST, raw)
    back = TcpSegment.parse(raw)
    assert back.options == options
    assert (back.seq, back.ack, back.flags, back.payload) == (seg.seq, 77, SYN | ACK, b"payload")


def test_tcp_corrupted_byte_fails_the_checksum():
    raw = bytearray(TcpSegment(1, 2, 3, 4, ACK, 5, b"data").emit(SRC, DST))
    raw[-1] ^= 0x01
    assert not tcp_checksum_ok(SRC, DST, bytes(raw))


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"\x00" * 10, "header"),
        (struct.pack("!HHIIBBHHH", 1, 2, 3, 4, 0x40, 0, 0, 0, 0), "data_offset"),
        (struct.pack("!HHIIBBHHH", 1, 2, 3, 4, 0x70, 0, 0, 0, 0) + b"\x02\x04\x05", "data_offset"),
        (struct.pack("!HHIIBBHHH", 1, 2, 3, 4, 0x60, 0, 0, 0, 0) + b"\x02\x09\x00\x00", "options"),
        (struct.pack("!HHIIBBHHH", 1, 2, 3, 4, 0x60, 0, 0, 0, 0) + b"\x02\x01\x00\x00", "options"),
    ],
)
def test_tcp_malformed_header_names_the_field(raw, field):
    with pytest.raises(WireError) as info:
        TcpSegment.parse(raw)
    assert info.value.layer == "tcp" and info.value.field == field


def test_tcp_options_over_40_bytes_are_refused_on_emit():
    with pytest.raises(WireError, match="exceed 40"):
        TcpSegment(1, 2, 3, 4, ACK, 5, options=(Sack(((1, 2),) * 5),)).emit(SRC, DST)


def test_tcp_options_without_length_byte_are_an_error():
    with pytest.raises(WireError, match="no length byte"):
        parse_options(b"\x02")


@settings(max_examples=300)
@given(st.binary(max_size=120))
def test_every_decoder_raises_only_wire_error(data):
    for parse in (
        TcpSegment.parse,
        IPv4.parse,
        Ethernet.parse,
        Arp.parse,
        Udp.parse,
        DhcpMessage.parse,
    ):
        with contextlib.suppress(WireError):
            parse(data)


def test_ipv4_round_trip_and_header_checksum():
    packet = IPv4(SRC, DST, PROTO_TCP, b"x" * 30, ttl=17, ident=99)
    raw = packet.emit()
    back = IPv4.parse(raw + b"\x00" * 6)  # Ethernet padding after the datagram is ignored
    assert back == packet
    corrupted = raw[:8] + bytes([raw[8] ^ 1]) + raw[9:]
    assert IPv4.parse(corrupted).header_checksum_ok is False


def test_ipv4_wrong_version_and_short_total_length():
    with pytest.raises(WireError, match="version"):
        IPv4.parse(b"\x60" + b"\x00" * 19)
    raw = IPv4(SRC, DST, PROTO_TCP, b"abc").emit()
    with pytest.raises(WireError, match="total_length"):
        IPv4.parse(raw[:-1])


def test_ethernet_and_arp_round_trip():
    arp = Arp(REQUEST, "02:00:00:00:00:01", SRC, "00:00:00:00:00:00", DST)
    frame = Ethernet("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", ETH_P_IP, arp.emit())
    back = Ethernet.parse(frame.emit())
    assert back == frame and Arp.parse(back.payload) == arp


def test_udp_round_trip_and_checksum():
    raw = Udp(68, 67, b"hello").emit(SRC, DST)
    assert udp_checksum_ok(SRC, DST, raw)
    assert Udp.parse(raw) == Udp(68, 67, b"hello", int.from_bytes(raw[6:8], "big"))


def test_dhcp_round_trip_and_typed_options():
    msg = DhcpMessage(
        BOOTREQUEST,
        0xDEADBEEF,
        "02:00:00:00:00:09",
        ((MESSAGE_TYPE, bytes([DISCOVER])), (REQUESTED_IP, bytes([198, 18, 0, 50]))),
        flags=0x8000,
    )
    raw = msg.emit()
    assert len(raw) >= 300
    back = DhcpMessage.parse(raw)
    assert back == msg
    assert back.message_type == DISCOVER and back.option_ip(REQUESTED_IP) == "198.18.0.50"


def test_dhcp_without_cookie_is_refused():
    raw = bytearray(DhcpMessage(BOOTREQUEST, 1, "02:00:00:00:00:09").emit())
    raw[236] = 0
    with pytest.raises(WireError, match="cookie"):
        DhcpMessage.parse(bytes(raw))


def test_fast_constructor_makes_the_same_frozen_object():
    import dataclasses

    from reference_impl.wire.fast import fast_constructor

    build = fast_constructor(TcpSegment)
    args = (1, 2, 3, 4, ACK, 5, b"x", (), 0, 0)
    made = build(*args)
    assert made == TcpSegment(*args) and hash(made) == hash(TcpSegment(*args))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.seq = 9
