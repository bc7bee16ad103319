"""Generating ACKs: cumulative acknowledgement, out-of-order and hole-filling segments
(RFC 9293 sections 3.4 and 3.10.7.4; RFC 5681 section 4.2)."""

import pytest

from harness.errors import ConformanceFailure

DELAYED_ACK_LIMIT_S = 0.5  # RFC 9293 3.8.6.3, MUST-40: an ACK is never delayed 0.5 s or more
SEGMENT = 100


def payload(index: int, size: int = SEGMENT) -> bytes:
    """Distinct bytes per segment, so that misordered delivery cannot go unnoticed."""
    return bytes((index * 7 + i) & 0xFF for i in range(size))


@pytest.mark.rfc("9293", "3.10.7.4", level="MUST")
@pytest.mark.parametrize("length", [1, 100, 1460])
def test_data_is_acknowledged_with_seq_plus_length(tcp, tolerance, length):
    """Data at sequence S of length L is acknowledged with S + L, within the 500 ms that
    bounds a delayed ACK (MUST-40)."""
    peer = tcp.connect_to_target().peer
    peer.send(payload(0, length))  # S = 1
    bound = tolerance.widen(DELAYED_ACK_LIMIT_S)
    seen = peer.expect(flags="A", ack=1 + length, within=bound, what=f"ACK of {length} bytes at 1")
    tcp.measure(f"data ({length} bytes) -> ACK", seen.delay_s, bound)


@pytest.mark.rfc("5681", "4.2", level="SHOULD")
def test_out_of_order_segment_draws_immediate_duplicate_ack(tcp, tolerance):
    """A segment above a hole is answered at once by a duplicate ACK: same ack number,
    same window, no data (RFC 5681 sections 2 and 4.2)."""
    peer = tcp.connect_to_target().peer
    peer.send(payload(0))
    first = peer.expect(flags="A", ack=101, within=tolerance.widen(DELAYED_ACK_LIMIT_S)).segment
    peer.send(payload(2), seq=201)  # 101..200 is missing
    immediate = tolerance.widen(0.0)
    dup = peer.expect(
        flags="A", ack=101, length=0, within=immediate, what="immediate duplicate ACK"
    ).segment
    tcp.measure("out-of-order segment -> duplicate ACK", (dup.ts_ns - first.ts_ns) / 1e9)
    if dup.window != first.window:
        raise ConformanceFailure(
            f"the duplicate ACK advertises window {dup.window}, the previous ACK {first.window}: "
            "a sender does not count it as a duplicate (RFC 5681 section 2)"
        )


def send_with_hole(peer, tolerance, *, missing=2, count=8):
    """100-byte segments at 1, 101, ..., 701 with one left out; each one above the hole
    must draw an immediate ACK that stays at the hole."""
    hole = 1 + missing * SEGMENT
    for index in range(count):
        if index == missing:
            continue
        peer.send(payload(index), seq=1 + index * SEGMENT)
        want = min(1 + (index + 1) * SEGMENT, hole)
        within = tolerance.widen(0.0) if index > missing else tolerance.widen(DELAYED_ACK_LIMIT_S)
        peer.expect(
            flags="A", ack=want, within=within, what=f"ACK after segment at {1 + index * SEGMENT}"
        )
    return hole


@pytest.mark.rfc("9293", "3.10.7.4", req="SHLD-31")
def test_hole_fill_acks_everything_buffered(tcp, tolerance):
    """Out-of-order segments are queued: when the missing segment arrives, one ACK covers
    all of them (201 stays the ACK until 201 arrives, then 801), sent at once (RFC 5681 4.2)."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    hole = send_with_hole(peer, tolerance)
    peer.send(payload(2), seq=hole)
    seen = peer.expect(
        flags="A", ack=801, within=tolerance.widen(0.0), what="ACK covering everything buffered"
    )
    tcp.measure("hole-filling segment -> ACK 801", seen.delay_s)


@pytest.mark.rfc("9293", "3.10.7.4", level="MUST")
def test_reordered_data_is_delivered_in_order(tcp, tolerance):
    """Whatever the target queued, the application reads the bytes in sequence order."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    hole = send_with_hole(peer, tolerance)
    peer.send(payload(2), seq=hole)
    # A stack that dropped the out-of-order segments asks for them again with its ACK.
    for _ in range(8):
        acked = peer.expect(flags="A", within=tolerance.widen(DELAYED_ACK_LIMIT_S)).segment.ack
        if acked >= 801:
            break
        index = (acked - 1) // SEGMENT
        peer.send(payload(index), seq=acked)
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
