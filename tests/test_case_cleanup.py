"""A test leaves the target with nothing of its own: connections it opened are aborted, so
their SYN retransmissions never show up in a later test's capture."""

import time

import pytest

from reference_impl.wire.errors import WireError
from reference_impl.wire.ethernet import Ethernet
from reference_impl.wire.ipv4 import PROTO_TCP, IPv4
from reference_impl.wire.tcp import SYN, TcpSegment

pytestmark = pytest.mark.needs_root
OFF_LINK = "198.19.255.1"  # sent to the gateway's MAC, which nobody answers for


def syns_from_target(bed, seconds):
    count, deadline = 0, time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        frame = bed.link.receive(left)
        if frame is None:
            break
        try:
            packet = IPv4.parse(Ethernet.parse(frame.data).payload)
            if packet.proto == PROTO_TCP and TcpSegment.parse(packet.payload).flags & SYN:
                count += 1
        except WireError:
            continue
    return count


@pytest.mark.parametrize("name", ["linux", "ref"])
def test_connections_a_test_opened_are_gone_after_it(name):
    from harness.hosts.bed import TestBed
    from harness.tcp.case import TcpCase

    bed = TestBed(name)
    try:
        case = TcpCase(bed)
        case.app_connect(OFF_LINK, 80)
        assert syns_from_target(bed, 1.5) >= 1, "the connection never tried"
        case.finish()
        TcpCase(bed)  # the next test's capture starts here
        assert syns_from_target(bed, 3.5) == 0
    finally:
        bed.close()
