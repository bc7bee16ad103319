"""Retransmission (RFC 6298; RFC 9293 3.8.1-3.8.3) and fast retransmit (RFC 5681 3.2).

The target's segments are named before they are judged (harness.tcp.classify): a tail-loss probe
(RFC 8985), which resends the last segment of a flight, is reported but never timed as an RTO;
the RTO resends the first unacknowledged one.
"""

import itertools

import pytest

from harness.core.bounds import FAST_RETRANSMIT, INITIAL_RTO, OLD_INITIAL_RTO, PROMPT_S, SETTLE_S
from harness.core.errors import ConformanceFailure
from harness.tcp.classify import TAIL_LOSS_PROBE, classify, of_kind
from reference_impl.wire.tcp import ACK

SMALL = 10  # the seed's example: ten-byte segments
SMALL_MSS = 100  # the fallback: segments the target must cut at our MSS

AFTER_TWO_S = 0.15  # a retransmission drawn by two duplicate ACKs would come by then


def flight_of_two(tcp):
    """At least two full data segments in flight, never acknowledged."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    with tcp.precondition("two data segments in flight"):
        tcp.set_option(conn, "nodelay", 1)
        tcp.app_write(conn, bytes(2 * 1460))
        sent = data_segments(peer, count=2, within=PROMPT_S)
    return conn, sent


def data_segments(peer, *, count, within):
    """The first ``count`` distinct data segments (by sequence number), else a failure."""
    seen = {}

    def enough(seg):
        if seg.length:
            seen.setdefault(seg.seq, seg)
        return len(seen) >= count

    peer.collect(within, until=enough)
    if len(seen) < count:
        covered = sum(seg.length for seg in seen.values())
        raise ConformanceFailure(
            f"{len(seen)} data segment(s) ({covered} bytes) came within {within:.1f} s, "
            f"{count} were needed"
        )
    return sorted(seen.values(), key=lambda s: s.seq)[:count]


def head_retransmissions(tcp, peer, count, within_each):
    """Times of the next ``count`` retransmissions of the first segment (sequence 1), and
    the tail-loss probes seen before them."""
    times = []
    for _ in range(count):
        more = peer.collect(within_each, until=lambda s: s.seq == 1 and s.length > 0)
        if not more or more[-1].seq != 1:
            break
        times.append(more[-1].ts_ns)
    probes = of_kind(classify(peer.exchange()), TAIL_LOSS_PROBE)
    tcp.record("tail-loss probes", len(probes))
    return times, probes


@pytest.mark.rfc("6298", "5", level="MUST")
def test_rto_retransmits_the_earliest_unacknowledged_segment(tcp):
    """Nothing is acknowledged: the first segment comes again when the timer fires. The
    first retransmission is due after 1 s (RFC 6298 2.1); we wait up to 3 s, the value of
    RFC 1122 that older stacks still use. A tail-loss probe of the last segment before it
    is allowed and reported."""
    conn, sent = flight_of_two(tcp)
    times, _probes = head_retransmissions(tcp, conn.peer, 1, tcp.within(OLD_INITIAL_RTO))
    if not times:
        raise ConformanceFailure(
            f"the first unacknowledged segment was not retransmitted within "
            f"{tcp.within(OLD_INITIAL_RTO):.1f} s"
        )
    tcp.measure("first RTO", (times[0] - sent[0].ts_ns) / 1e9, INITIAL_RTO, OLD_INITIAL_RTO)


@pytest.mark.rfc("9293", "3.8.2", req="MUST-19")
def test_retransmission_timer_backs_off_exponentially(tcp):
    """Each retransmission of the first segment waits about twice as long as the one before
    (RFC 6298 5.5). Judged on two gaps between real RTOs: when a tail-loss probe came first
    (it restarts the timer, RFC 8985), the gap that includes it is left out."""
    conn, sent = flight_of_two(tcp)
    times, probes = head_retransmissions(
        tcp, conn.peer, 2, tcp.within(OLD_INITIAL_RTO, doublings=1)
    )
    if probes and len(times) == 2:
        more, _ = head_retransmissions(tcp, conn.peer, 1, tcp.within(OLD_INITIAL_RTO, doublings=2))
        times += more
    else:
        times = [sent[0].ts_ns, *times]
    if len(times) < 3:
        raise ConformanceFailure(
            f"only {len(times)} transmission(s) of the first segment: too few retransmissions "
            "to see a backoff"
        )
    gaps = [(b - a) / 1e9 for a, b in itertools.pairwise(times[-3:])]
    for n, gap in enumerate(gaps, start=1):
        tcp.measure(f"RTO gap {n}", gap)
    if gaps[1] < 1.6 * gaps[0]:
        raise ConformanceFailure(f"RTOs of {gaps[0]:.3f} s then {gaps[1]:.3f} s: no backoff")


def small_segments(tcp, count):
    """``count`` small data segments in flight, not yet acknowledged. As in the seed's
    example: Nagle off and ``count`` writes of ten bytes. A stack may coalesce such writes
    (RFC 9293 allows it); then a second connection announces an MSS of 100 bytes, grows the
    congestion window with one acknowledged round, and makes one write that the target must
    cut into ``count`` segments. Returns (connection, the segments in sequence order)."""
    conn = tcp.connect_to_target()
    with tcp.precondition(f"{count} data segments in flight"):
        tcp.set_option(conn, "nodelay", 1)
        for _ in range(count):
            tcp.app_write(conn, bytes(SMALL))
        try:
            return conn, data_segments(conn.peer, count=count, within=PROMPT_S)
        except ConformanceFailure as coalesced:
            tcp.record("ten-byte writes", f"coalesced ({coalesced}); retried with MSS 100")
        return cut_at_small_mss(tcp, count)


def cut_at_small_mss(tcp, count):
    conn = tcp.connect_to_target(mss=SMALL_MSS)
    peer = conn.peer
    tcp.set_option(conn, "nodelay", 1)
    tcp.app_write(conn, bytes(4 * SMALL_MSS))  # a first round, acknowledged per segment
    for seg in data_segments(peer, count=4, within=PROMPT_S):
        peer.send(flags=ACK, ack=seg.seq + seg.length)
    peer.collect(SETTLE_S)
    tcp.app_write(conn, bytes(count * SMALL_MSS))
    return conn, data_segments(peer, count=count, within=PROMPT_S)


@pytest.mark.rfc("5681", "3.2", level="SHOULD")
def test_three_duplicate_acks_draw_the_missing_segment(tcp):
    """The seed's example: ACKs 11, 21, 21, 21 for segments at 1..71, the one at 21 lost:
    after the third duplicate the segment at 21 comes at once, long before any RTO."""
    conn, segments = small_segments(tcp, 8)
    peer = conn.peer
    lost = segments[2].seq
    peer.send(flags=ACK, ack=segments[1].seq)  # 11: the first segment arrived
    peer.send(flags=ACK, ack=lost)  # 21: the second too, the one at 21 did not
    for _ in range(3):
        peer.send(flags=ACK, ack=lost)  # duplicates: same ack, same window, no data
    seen = peer.expect(
        seq=lost,
        within=tcp.within(OLD_INITIAL_RTO),
        skip_others=True,
        what=f"retransmission of the segment at {lost}",
    )
    tcp.measure("third duplicate ACK -> retransmission", seen.delay_s, FAST_RETRANSMIT)
    if not FAST_RETRANSMIT.met(seen.delay_s, tcp.tolerance):
        raise ConformanceFailure(
            f"the segment at {lost} came {seen.delay_s * 1000:.0f} ms after the third duplicate "
            f"ACK: a timeout, not a fast retransmit (allowed "
            f"{tcp.within(FAST_RETRANSMIT) * 1000:.0f} ms)"
        )


@pytest.mark.rfc("5681", "3.2", level="SHOULD")
def test_two_duplicate_acks_do_not_draw_a_retransmission(tcp):
    conn, segments = small_segments(tcp, 8)
    peer = conn.peer
    lost = segments[2].seq
    peer.send(flags=ACK, ack=segments[1].seq)
    peer.send(flags=ACK, ack=lost)
    for _ in range(2):
        peer.send(flags=ACK, ack=lost)
    early = [s for s in peer.collect(AFTER_TWO_S) if s.seq == lost and s.length]
    if early:
        raise ConformanceFailure(f"the segment at {lost} came again after only two duplicate ACKs")


def first_retransmission(peer, start, sent_ns, within):
    """Seconds from ``sent_ns`` to the next segment carrying data at ``start`` (None if none
    came within ``within``)."""
    more = peer.collect(within, until=lambda s: s.seq == start and s.length > 0)
    if not more or more[-1].seq != start or not more[-1].length:
        return None
    return (more[-1].ts_ns - sent_ns) / 1e9


def sent_and_acked_at_once(tcp, conn, start, data):
    """``data`` at ``start`` leaves and we acknowledge it at once: a true RTT sample."""
    tcp.app_write(conn, data)
    conn.peer.expect_predicted(what="data", fields=("seq", "length"), skip_others=True)
    conn.peer.send(flags=ACK, ack=start + len(data))


@pytest.mark.rfc("9293", "3.8.1", req="MUST-18")
def test_the_ack_of_a_retransmitted_segment_gives_no_rtt_sample(tcp):
    """Karn's algorithm (RFC 6298 3). Segment A is acknowledged only after its second
    retransmission. Timed from its first transmission, that ACK would give an RTT of about
    three RTOs, and the RTO would grow to about three times that (RFC 6298 2.2). Then B is
    acknowledged at once (a true sample), and C, never acknowledged, must be retransmitted
    about as soon as A was the first time: within twice that."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    tcp.set_option(conn, "nodelay", 1)
    wait = tcp.tolerance.window(2 * OLD_INITIAL_RTO.seconds)
    with tcp.precondition("a segment retransmitted twice"):
        tcp.app_write(conn, b"A" * 100)
        sent = peer.expect_predicted(what="A", fields=("seq", "length")).segment.ts_ns
        before = first_retransmission(peer, 1, sent, wait)
        again = first_retransmission(peer, 1, peer.segments[-1].ts_ns, wait)
        if before is None or again is None:
            raise ConformanceFailure("A was not retransmitted twice (test_retransmission judges)")
    peer.send(flags=ACK, ack=101)
    sent_and_acked_at_once(tcp, conn, 101, b"B" * 100)
    tcp.app_write(conn, b"C" * 100)
    sent = peer.expect_predicted(what="C", fields=("seq", "length"), skip_others=True).segment.ts_ns
    limit = tcp.tolerance.window(2 * before)
    after = first_retransmission(peer, 201, sent, limit)
    tcp.measure("A sent -> first retransmission", before)
    if after is None:
        raise ConformanceFailure(
            f"C was not retransmitted within {limit:.2f} s, twice the {before:.2f} s A waited: "
            "the RTO grew, as if the ACK of the retransmitted A had been timed"
        )
    tcp.measure("C sent -> first retransmission", after)
