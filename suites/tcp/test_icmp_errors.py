"""ICMP errors about the target's own segments (RFC 9293 3.9.2.2): acted on (MUST-54; here
fragmentation-needed, RFC 1191), soft errors and source quench leave the connection alone
(MUST-55, MUST-56), hard errors end a connection attempt (SHLD-26).

Each message quotes a segment the target really sent (its IP header and first 8 bytes, as
RFC 792 has it), with a sequence number in flight, as a stack checks before it believes one
(RFC 5927 4.1). Soft errors are checked on an established connection: RFC 9293 notes that
many stacks treat them as hard while a connection is still opening (RFC 5461 4).
"""

import pytest

from harness.core.bounds import DELAYED_ACK, OLD_INITIAL_RTO
from harness.core.errors import ConformanceFailure, Unsupported
from harness.tcp.states import reach
from reference_impl.wire.ethernet import Ethernet
from reference_impl.wire.icmp import (
    FRAGMENTATION_NEEDED,
    HOST_UNREACHABLE,
    NET_UNREACHABLE,
    PORT_UNREACHABLE,
    PROTOCOL_UNREACHABLE,
    SOURCE_QUENCH,
    SOURCE_ROUTE_FAILED,
    Icmp,
    unreachable,
)
from reference_impl.wire.ipv4 import FLAG_DF, PROTO_ICMP, IPv4
from reference_impl.wire.tcp import ACK, SYN

PATH_MTU = 1000  # above every stack's floor (Linux believes nothing under 552)


def quote(frame: bytes) -> tuple[IPv4, bytes]:
    """The IP header of the target's frame and its payload's first 8 bytes."""
    ip_bytes = Ethernet.parse(frame).payload
    packet = IPv4.parse(ip_bytes)
    return packet, ip_bytes[: 20 + len(packet.options) + 8]


def latest_frame(peer, matching) -> bytes:
    """The last frame the target sent on the connection whose segment satisfies ``matching``."""
    for frame in reversed(peer.target_frames()):
        seg = peer.segment_of(frame)
        if seg is not None and matching(seg):
            return frame.data
    raise AssertionError("no such frame from the target")


def data_in_flight(tcp):
    """An established connection with 100 bytes of the target's unacknowledged; returns the
    connection and the frame that carried them."""
    conn = tcp.connect_to_target()
    with tcp.precondition("100 bytes in flight"):
        tcp.app_write(conn, b"f" * 100)
        conn.peer.expect_predicted(what="the data", fields=("seq", "length"))
    return conn, latest_frame(conn.peer, lambda seg: seg.length == 100)


def carries_on(tcp, conn):
    """The connection survives: we acknowledge the data and the application's next write
    arrives."""
    peer = conn.peer
    peer.send(flags=ACK, ack=101)
    tcp.app_write(conn, b"g" * 100)
    peer.expect_predicted(
        what="data after the ICMP error", fields=("seq", "length"), skip_others=True
    )


SOFT = {
    "net-unreachable": NET_UNREACHABLE,
    "host-unreachable": HOST_UNREACHABLE,
    "source-route-failed": SOURCE_ROUTE_FAILED,
}


@pytest.mark.parametrize("error", SOFT)
@pytest.mark.rfc("9293", "3.9.2.2", req="MUST-56")
def test_a_soft_error_does_not_abort_the_connection(tcp, error):
    conn, frame = data_in_flight(tcp)
    conn.peer.send_datagram(PROTO_ICMP, unreachable(SOFT[error], quote(frame)[1]).emit())
    carries_on(tcp, conn)


@pytest.mark.rfc("9293", "3.9.2.2", req="MUST-55")
def test_source_quench_is_discarded(tcp):
    conn, frame = data_in_flight(tcp)
    conn.peer.send_datagram(PROTO_ICMP, Icmp(SOURCE_QUENCH, 0, bytes(4), quote(frame)[1]).emit())
    carries_on(tcp, conn)


HARD = {"protocol-unreachable": PROTOCOL_UNREACHABLE, "port-unreachable": PORT_UNREACHABLE}


@pytest.mark.parametrize("error", HARD)
@pytest.mark.rfc("9293", "3.9.2.2", req="SHLD-26")
def test_a_hard_error_ends_a_connection_attempt(tcp, error):
    """The target's SYN draws a hard unreachable: it gives the attempt up, so no SYN comes
    again (one would within 3 s, RFC 1122's initial RTO, and here within about 1 s)."""
    peer = reach(tcp, "SYN-SENT").peer
    frame = latest_frame(peer, lambda seg: bool(seg.flags & SYN))
    peer.send_datagram(PROTO_ICMP, unreachable(HARD[error], quote(frame)[1]).emit())
    again = peer.collect(OLD_INITIAL_RTO.seconds + 0.5)
    if again:
        raise ConformanceFailure(f"after {error} the target went on: {again[0].describe()}")


@pytest.mark.rfc("9293", "3.9.2.2", req="MUST-54")
def test_fragmentation_needed_makes_segments_fit_the_path(tcp):
    """A full-sized segment draws fragmentation-needed with a next-hop MTU of 1000: the
    target sends its data again (and from then on) in segments that fit 1000 bytes."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    with tcp.precondition("a full-sized segment in flight"):
        tcp.set_option(conn, "nodelay", 1)
        tcp.app_write(conn, bytes(3000))
        peer.expect_predicted(what="a full-sized segment", fields=("seq", "length"))
    frame = latest_frame(peer, lambda seg: seg.seq == 1 and seg.length == 1460)
    packet, quoted = quote(frame)
    if not packet.flags & FLAG_DF:
        raise Unsupported("the target's segments do not set DF: it does not use path MTU discovery")
    peer.send_datagram(PROTO_ICMP, unreachable(FRAGMENTATION_NEEDED, quoted, mtu=PATH_MTU).emit())
    # The target's host may keep the path MTU for minutes (Linux: 10) and fragment or shrink
    # what later tests get: they get a new bed.
    tcp.bed.retired = "it learnt a path MTU of 1000 to the tester"
    largest = PATH_MTU - 40
    seen = peer.expect(
        seq=1, within=tcp.within(OLD_INITIAL_RTO), skip_others=True, what="the data sent again"
    ).segment
    if seen.length > largest:
        raise ConformanceFailure(
            f"the data came again in a {seen.length}-byte segment after a path MTU of {PATH_MTU}"
        )
    peer.send(flags=ACK, ack=1 + seen.length)
    later = peer.expect(within=tcp.within(DELAYED_ACK), skip_others=True, what="more data").segment
    if later.length > largest:
        raise ConformanceFailure(
            f"a later {later.length}-byte segment after a path MTU of {PATH_MTU}"
        )
