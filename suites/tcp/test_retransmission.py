"""Retransmission (RFC 6298; RFC 9293 3.8.1-3.8.3) and fast retransmit (RFC 5681 3.2)."""

import itertools

import pytest

from harness.errors import ConformanceFailure

SMALL = 10  # the seed's example: ten-byte segments


def unacked_write(tcp, size=100):
    conn = tcp.connect_to_target()
    tcp.set_option(conn, "nodelay", 1)
    tcp.app_write(conn, bytes(size))
    return conn, conn.peer.expect(seq=1, length=size, within=1.0, what="the data").segment


@pytest.mark.rfc("6298", "5", level="MUST")
def test_rto_retransmits_the_earliest_unacknowledged_segment(tcp):
    """Nothing is acknowledged: the same segment comes again when the timer fires (at most
    the initial 1 s of RFC 6298 2.1 after a fresh connection, widened for old stacks to 3 s)."""
    conn, first = unacked_write(tcp)
    again = conn.peer.expect(
        seq=1,
        within=tcp.tolerance.widen(3.0),
        skip_others=True,
        what="the retransmission of the earliest segment",
    ).segment
    if again.length != first.length:
        raise ConformanceFailure(f"retransmitted {again.length} bytes of {first.length}")
    tcp.measure("first RTO", (again.ts_ns - first.ts_ns) / 1e9, 3.0)


@pytest.mark.rfc("9293", "3.8.2", req="MUST-19")
def test_retransmission_timer_backs_off_exponentially(tcp):
    """Each retransmission waits about twice as long as the one before (RFC 6298 5.5)."""
    conn, first = unacked_write(tcp)
    times = [first.ts_ns]
    for index in range(2):
        seg = conn.peer.expect(
            seq=1,
            within=tcp.tolerance.widen(6.0),
            skip_others=True,
            what=f"retransmission {index + 1}",
        ).segment
        times.append(seg.ts_ns)
    gaps = [(b - a) / 1e9 for a, b in itertools.pairwise(times)]
    for n, gap in enumerate(gaps, start=1):
        tcp.measure(f"RTO {n}", gap)
    if gaps[1] < 1.6 * gaps[0]:
        raise ConformanceFailure(f"RTOs of {gaps[0]:.3f} s then {gaps[1]:.3f} s: no backoff")


def small_segments(tcp, count):
    """The target sends ``count`` ten-byte segments (Nagle off) that we do not ACK yet."""
    conn = tcp.connect_to_target()
    tcp.set_option(conn, "nodelay", 1)
    for _ in range(count):
        tcp.app_write(conn, bytes(SMALL))
    seen = []
    while len(seen) < count:
        seg = conn.peer.expect(within=1.0, skip_others=True, what="the small segments").segment
        if seg.length and seg.seq not in {s.seq for s in seen}:
            seen.append(seg)
    return conn


@pytest.mark.rfc("5681", "3.2", level="SHOULD")
def test_three_duplicate_acks_draw_the_missing_segment(tcp):
    """The seed's example: ACKs 11, 21, 21, 21 for segments at 1..71, the one at 21 lost:
    after the third duplicate the segment at 21 comes at once, long before any RTO."""
    conn = small_segments(tcp, 8)
    peer = conn.peer
    peer.send(flags="A", ack=11)
    peer.send(flags="A", ack=21)
    for _ in range(3):
        peer.send(flags="A", ack=21)  # duplicates: same ack, same window, no data
    seen = peer.expect(
        seq=21,
        within=tcp.tolerance.widen(0.1),
        skip_others=True,
        what="fast retransmission of the segment at 21",
    )
    tcp.measure("third duplicate ACK -> retransmission", seen.delay_s, 0.1)


@pytest.mark.rfc("5681", "3.2", level="SHOULD")
def test_two_duplicate_acks_do_not_draw_a_retransmission(tcp):
    conn = small_segments(tcp, 8)
    peer = conn.peer
    peer.send(flags="A", ack=11)
    peer.send(flags="A", ack=21)
    for _ in range(2):
        peer.send(flags="A", ack=21)
    early = [s for s in peer.collect(0.15) if s.seq == 21 and s.length]
    if early:
        raise ConformanceFailure("the segment at 21 came again after only two duplicate ACKs")
