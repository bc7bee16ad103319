"""Generating ACKs: cumulative acknowledgement, out-of-order and hole-filling segments
(RFC 9293 sections 3.4 and 3.10.7.4; RFC 5681 section 4.2). The expected segments and their
latest times come from the reference (harness.oracle), fed with what the target received."""

import pytest

from harness.errors import ConformanceFailure

SEGMENT = 100


def payload(index: int, size: int = SEGMENT) -> bytes:
    """Distinct bytes per segment, so that misordered delivery cannot go unnoticed."""
    return bytes((index * 7 + i) & 0xFF for i in range(size))


@pytest.mark.rfc("9293", "3.10.7.4", level="MUST")
@pytest.mark.parametrize("length", [1, 100, 1460])
def test_data_is_acknowledged_with_seq_plus_length(tcp, length):
    """Data at sequence S of length L is acknowledged with S + L, no later than a delayed
    ACK may be (under 500 ms, MUST-40)."""
    peer = tcp.connect_to_target().peer
    peer.send(payload(0, length))  # S = 1
    seen = peer.expect_predicted(what=f"ACK of {length} bytes at 1")
    assert seen.segment.ack == 1 + length
    tcp.measure(f"data ({length} bytes) -> ACK", seen.delay_s)


@pytest.mark.rfc("5681", "4.2", level="SHOULD")
def test_out_of_order_segment_draws_immediate_duplicate_ack(tcp):
    """A segment above a hole is answered at once by a duplicate ACK: same ack number,
    same window, no data (RFC 5681 sections 2 and 4.2)."""
    peer = tcp.connect_to_target().peer
    peer.send(payload(0))
    first = peer.expect_predicted(what="ACK of the first segment").segment
    peer.send(payload(2), seq=201)  # 101..200 is missing
    dup = peer.expect_predicted(what="immediate duplicate ACK", fields=("flags", "ack", "length"))
    tcp.measure("out-of-order segment -> duplicate ACK", dup.delay_s)
    if dup.segment.window != first.window:
        raise ConformanceFailure(
            f"the duplicate ACK advertises window {dup.segment.window}, the previous ACK "
            f"{first.window}: a sender does not count it as a duplicate (RFC 5681 section 2)"
        )


def send_with_hole(peer, *, missing=2, count=8):
    """100-byte segments at 1, 101, ..., 701 with one left out; each draws the ACK the
    reference sends (for those above the hole: an immediate ACK of the hole)."""
    for index in range(count):
        if index == missing:
            continue
        peer.send(payload(index), seq=1 + index * SEGMENT)
        peer.expect_predicted(
            what=f"ACK after the segment at {1 + index * SEGMENT}", fields=("flags", "ack")
        )
    return 1 + missing * SEGMENT


@pytest.mark.rfc("9293", "3.10.7.4", req="SHLD-31")
def test_hole_fill_acks_everything_buffered(tcp):
    """Out-of-order segments are queued: the ACK stays at 201 until 201 arrives, then one
    ACK covers everything (801), sent at once (RFC 5681 4.2)."""
    peer = tcp.connect_to_target().peer
    hole = send_with_hole(peer)
    peer.send(payload(2), seq=hole)
    seen = peer.expect_predicted(what="ACK covering everything buffered", fields=("flags", "ack"))
    assert seen.segment.ack == 801
    tcp.measure("hole-filling segment -> ACK 801", seen.delay_s)


@pytest.mark.rfc("9293", "3.10.7.4", level="MUST")
def test_reordered_data_is_delivered_in_order(tcp, tolerance):
    """Whatever the target queued, the application reads the bytes in sequence order."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    hole = send_with_hole(peer)
    peer.send(payload(2), seq=hole)
    # A stack that dropped the out-of-order segments asks for them again with its ACK.
    for _ in range(8):
        acked = peer.expect(flags="A", within=tolerance.widen(0.5), skip_others=True).segment.ack
        if acked >= 801:
            break
        peer.send(payload((acked - 1) // SEGMENT), seq=acked)
    expected = b"".join(payload(i) for i in range(8))
    got = tcp.app_read(conn, len(expected))
    if got != expected:
        first_bad = next(
            (i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b), len(got)
        )
        raise ConformanceFailure(
            f"the application read {len(got)} bytes; they differ from what was sent "
            f"from byte {first_bad} (sequence number {1 + first_bad})"
        )


@pytest.mark.rfc("9293", "3.10.7.4", req="MUST-58")
def test_cumulative_ack_covers_several_segments(tcp):
    """Three segments sent back to back are covered by an ACK of 301, without ever an ACK
    beyond what was sent."""
    peer = tcp.connect_to_target().peer
    for index in range(3):
        peer.send(payload(index), seq=1 + SEGMENT * index)
    acks = []
    while not acks or acks[-1] < 301:
        seen = peer.expect(
            flags="A",
            within=tcp.tolerance.widen(0.5),
            skip_others=True,
            what="ACKs of the three segments",
        ).segment
        acks.append(seen.ack)
        if seen.ack > 301:
            raise ConformanceFailure(f"ACK {seen.ack} acknowledges data never sent")


@pytest.mark.rfc("9293", "3.8.6.3", req="MUST-40")
def test_delayed_ack_never_reaches_500_ms(tcp):
    """Twelve small segments, each after the previous ACK: every ACK comes in under 0.5 s
    (past any quick-ACK phase), and the delays are reported."""
    peer = tcp.connect_to_target().peer
    delays = []
    for index in range(12):
        peer.send(payload(index, 20), seq=1 + 20 * index)
        seen = peer.expect(
            flags="A",
            ack=21 + 20 * index,
            within=tcp.tolerance.widen(0.5),
            what=f"ACK of small segment {index + 1}",
        )
        delays.append(seen.delay_s)
    tcp.measurements.append("ACK delays (ms): " + ", ".join(f"{d * 1000:.1f}" for d in delays))
    if max(delays) >= 0.5:
        raise ConformanceFailure(f"an ACK took {max(delays) * 1000:.0f} ms (MUST-40: below 500)")


@pytest.mark.rfc("9293", "3.8.6.3", req="SHLD-19")
def test_every_second_full_sized_segment_is_acknowledged_at_once(tcp):
    """Two full-sized segments back to back: the second draws an ACK covering both at
    once, not after the delayed-ACK timer."""
    peer = tcp.connect_to_target(mss=1460).peer
    mss = 1460
    peer.send(payload(0, mss))
    peer.send(payload(1, mss), seq=1 + mss)
    seen = peer.expect(
        flags="A",
        ack=1 + 2 * mss,
        within=tcp.tolerance.widen(0.0),
        skip_others=True,
        what="ACK of both full-sized segments",
    )
    tcp.measure("second full segment -> ACK", seen.delay_s)


@pytest.mark.rfc("9293", "3.10.7.4", level="MUST")
def test_duplicate_segment_is_acknowledged_and_not_delivered_twice(tcp):
    conn = tcp.connect_to_target()
    peer = conn.peer
    peer.send(payload(0))
    peer.expect(flags="A", ack=101, within=tcp.tolerance.widen(0.5))
    peer.send(payload(0), seq=1)  # the same segment again
    peer.expect(flags="A", ack=101, within=tcp.tolerance.widen(0.0), what="immediate ACK")
    peer.send(payload(1), seq=101)
    peer.expect(flags="A", ack=201, within=tcp.tolerance.widen(0.5), skip_others=True)
    got = tcp.app_read(conn, 300, timeout=0.5)
    if got != payload(0) + payload(1):
        raise ConformanceFailure(f"the application read {len(got)} bytes, not 200 once each")
