"""Generating ACKs: cumulative acknowledgement, out-of-order and hole-filling segments
(RFC 9293 sections 3.4 and 3.10.7.4; RFC 5681 section 4.2). The expected segments and their
latest times come from the reference (harness.tcp.oracle), fed with what the target received."""

import pytest

from harness.core.bounds import DELAYED_ACK, FULL_SEGMENTS_ACK, IMMEDIATE_ACK, PROMPT_S, SETTLE_S
from harness.core.errors import ConformanceFailure
from reference_impl.wire.tcp import ACK, Mss

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


def send_with_hole(tcp, peer, *, missing=2, count=8):
    """100-byte segments at 1, 101, ..., 701, back to back, with the one at 201 left out.
    The scenario is reached when the target has acknowledged everything below the hole and
    nothing beyond it (ACK 201); returns the hole's sequence number."""
    hole = 1 + missing * SEGMENT
    with tcp.precondition(f"data queued above a hole at {hole}"):
        for index in range(count):
            if index != missing:
                peer.send(payload(index), seq=1 + index * SEGMENT)
        seen = peer.collect(
            tcp.within(DELAYED_ACK),
            until=lambda seg: seg.flags & ACK and seg.ack >= hole,
        )
        acked = max((seg.ack for seg in seen if seg.flags & ACK), default=0)
        if acked != hole:
            raise ConformanceFailure(
                f"the target acknowledged {acked or 'nothing'}, not {hole}, for the segments "
                "below the hole"
            )
        peer.collect(SETTLE_S)  # the duplicate ACKs of the other segments, before the fill
    return hole


def acks_after(tcp, peer, *, above, reaching):
    """The target's ACKs that advance past ``above``, until one reaches ``reaching`` or the
    MUST-40 bound (widened) passes: [(segment, delay after our last segment)]."""
    sent_ns = peer.last_sent_ns()
    seen = peer.collect(
        tcp.within(DELAYED_ACK),
        until=lambda seg: seg.flags & ACK and seg.ack >= reaching,
    )
    return [
        (seg, (seg.ts_ns - sent_ns) / 1e9) for seg in seen if seg.flags & ACK and seg.ack > above
    ]


@pytest.mark.rfc("5681", "4.2", level="SHOULD")
def test_hole_fill_is_acknowledged_at_once(tcp):
    """The segment that fills the hole draws an ACK at once. Any ACKs are accepted (one of
    801, or 401, 601, 801 in steps): the first must come at once, and the delays to the
    first and to the cumulative ACK are both reported against both bounds."""
    peer = tcp.connect_to_target().peer
    hole = send_with_hole(tcp, peer)
    peer.send(payload(2), seq=hole)
    acks = acks_after(tcp, peer, above=hole, reaching=801)
    if not acks:
        raise ConformanceFailure(
            f"no ACK beyond {hole} within {DELAYED_ACK.seconds * 1000:.0f} ms of the segment "
            "that filled the hole (and MUST-40 bounds any ACK at 500 ms)"
        )
    first, first_delay = acks[0]
    tcp.measure(f"hole fill -> first ACK ({first.ack})", first_delay, IMMEDIATE_ACK, DELAYED_ACK)
    cumulative = [delay for seg, delay in acks if seg.ack >= 801]
    if cumulative:
        tcp.measure("hole fill -> ACK 801", cumulative[0], DELAYED_ACK)
    else:
        tcp.record("hole fill -> ACK 801", f"never (highest ACK {acks[-1][0].ack})")
    if not IMMEDIATE_ACK.met(first_delay, tcp.tolerance):
        raise ConformanceFailure(
            f"the first ACK after the hole was filled came {first_delay * 1000:.1f} ms later, "
            f"not at once (allowed {tcp.within(IMMEDIATE_ACK) * 1000:.0f} ms)"
        )


@pytest.mark.rfc("9293", "3.10.7.4", req="SHLD-31")
def test_out_of_order_segments_are_kept_for_later(tcp):
    """Segments above a hole are held: once the hole is filled, the ACK covers them (801)
    without the tester sending any of them again."""
    peer = tcp.connect_to_target().peer
    hole = send_with_hole(tcp, peer)
    peer.send(payload(2), seq=hole)
    acks = acks_after(tcp, peer, above=hole, reaching=801)
    highest = max((seg.ack for seg, _ in acks), default=hole)
    if highest < 801:
        raise ConformanceFailure(
            f"after the hole was filled the target acknowledged {highest}, not 801: it did not "
            "keep the segments it had received above the hole"
        )
    tcp.measure("hole fill -> ACK 801", next(d for seg, d in acks if seg.ack >= 801), DELAYED_ACK)


@pytest.mark.rfc("9293", "3.10.7.4", level="MUST")
def test_reordered_data_is_delivered_in_order(tcp, tolerance):
    """Whatever the target queued, the application reads the bytes in sequence order."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    hole = send_with_hole(tcp, peer)
    peer.send(payload(2), seq=hole)
    # A stack that dropped the out-of-order segments asks for them again with its ACK.
    for _ in range(8):
        acks = [seg.ack for seg in peer.collect(tcp.within(DELAYED_ACK), until=_is_ack)]
        acked = max(acks, default=801)
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


def _is_ack(seg):
    return seg.flags & ACK


@pytest.mark.rfc("9293", "3.10.7.4", level="MUST")
def test_cumulative_ack_covers_several_segments(tcp):
    """Three segments sent back to back are covered by an ACK of 301 (in one ACK or
    several), without ever an ACK beyond what was sent."""
    peer = tcp.connect_to_target().peer
    for index in range(3):
        peer.send(payload(index), seq=1 + SEGMENT * index)
    acks = []
    while not acks or acks[-1] < 301:
        seen = peer.expect(
            flags=ACK,
            within=tcp.within(DELAYED_ACK),
            skip_others=True,
            what="ACKs of the three segments",
        ).segment
        acks.append(seen.ack)
        if seen.ack > 301:
            raise ConformanceFailure(f"ACK {seen.ack} acknowledges data never sent")
    tcp.record("ACK numbers", acks)


def ack_delays_of_small_segments(tcp, peer, count):
    """``count`` 20-byte segments, each sent after the ACK of the one before; the delay of
    each ACK (its numbers from the reference, its time bounded by MUST-40), also recorded."""
    delays = []
    for index in range(count):
        peer.send(payload(index, 20), seq=1 + 20 * index)
        seen = peer.expect_predicted(
            what=f"ACK of small segment {index + 1}", bound=DELAYED_ACK, skip_others=True
        )
        assert seen.segment.ack == 21 + 20 * index
        delays.append(seen.delay_s)
    tcp.record("ACK delays (ms)", ", ".join(f"{d * 1000:.1f}" for d in delays))
    return delays


@pytest.mark.rfc("9293", "3.8.6.3", req="MUST-40")
def test_delayed_ack_never_reaches_500_ms(tcp):
    """Twelve small segments, each after the previous ACK: every ACK comes in under 0.5 s
    (past any quick-ACK phase), and the delays are reported."""
    peer = tcp.connect_to_target().peer
    delays = ack_delays_of_small_segments(tcp, peer, 12)
    tcp.measure("longest ACK delay", max(delays), DELAYED_ACK)


def target_mss(peer, default=536):
    """The MSS the target announced in its SYN-ACK (MUST-15: 536 without one)."""
    mss = peer.target_syn.option(Mss)
    return mss.value if mss is not None else default


@pytest.mark.rfc("9293", "3.8.6.3", req="SHLD-19")
def test_every_second_full_sized_segment_is_acknowledged_at_once(tcp):
    """Two full-sized segments (the target's own MSS) back to back: an ACK covering both
    comes at once, not after the delayed-ACK timer. The delay is measured up to the MUST-40
    bound either way."""
    peer = tcp.connect_to_target(mss=1460).peer
    mss = min(1460, target_mss(peer))
    peer.send(payload(0, mss))
    peer.send(payload(1, mss), seq=1 + mss)
    sent_ns = peer.last_sent_ns()
    seen = peer.expect_predicted(
        what="ACK of both full-sized segments", bound=DELAYED_ACK, skip_others=True
    ).segment
    assert seen.ack == 1 + 2 * mss
    delay = (seen.ts_ns - sent_ns) / 1e9
    tcp.measure("second full segment -> ACK", delay, FULL_SEGMENTS_ACK, DELAYED_ACK)
    if not FULL_SEGMENTS_ACK.met(delay, tcp.tolerance):
        raise ConformanceFailure(
            f"the ACK of two full-sized segments came {delay * 1000:.1f} ms after the second, "
            f"not at once (allowed {tcp.within(FULL_SEGMENTS_ACK) * 1000:.0f} ms)"
        )


@pytest.mark.rfc("9293", "3.10.7.4", level="MUST")
def test_duplicate_segment_is_not_delivered_twice(tcp):
    """A segment that arrives twice reaches the application once. (The RFC asks, without a
    keyword, that the duplicate draw an ACK: its delay is reported, not judged.)"""
    conn = tcp.connect_to_target()
    peer = conn.peer
    with tcp.precondition("the first segment acknowledged"):
        peer.send(payload(0))
        peer.expect_predicted(what="the ACK", bound=DELAYED_ACK)
    peer.send(payload(0), seq=1)  # the same segment again
    sent_ns = peer.last_sent_ns()
    again = peer.collect(tcp.within(DELAYED_ACK), until=_is_ack)
    if again:
        tcp.measure("duplicate -> ACK", (again[-1].ts_ns - sent_ns) / 1e9, DELAYED_ACK)
    else:
        tcp.record("duplicate -> ACK", "none within 500 ms")
    peer.send(payload(1), seq=101)
    got = tcp.app_read(conn, 300, timeout=PROMPT_S)
    if got != payload(0) + payload(1):
        raise ConformanceFailure(
            f"the application read {len(got)} bytes, not the 200 sent (each once)"
        )


# A delayed ACK is counted as delayed from this long after the segment: the quickest delayed
# ACK known (Linux, HZ=1000) waits 40 ms; a stack that answers every segment at once takes
# well under a millisecond on this link.
DELAYED_S = 0.02


@pytest.mark.rfc("9293", "3.8.6.3", req="SHLD-18")
def test_acks_of_lone_small_segments_are_delayed(tcp):
    """Twenty small segments, each after the previous ACK: past any quick-ACK phase at the
    start, the ACK of a lone small segment waits (for more data to ACK together)."""
    peer = tcp.connect_to_target().peer
    delays = ack_delays_of_small_segments(tcp, peer, 20)
    if max(delays) < DELAYED_S:
        raise ConformanceFailure(
            f"all 20 ACKs came within {max(delays) * 1000:.1f} ms: no ACK was delayed"
        )
