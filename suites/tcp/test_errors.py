"""Checksums both ways, and bad input from the peer: bad checksums, RSTs in and out of the
window, SYNs in a synchronized state (RFC 9293 3.1, 3.10.7.4; RFC 5961 3.2 and 4.2)."""

import pytest

from harness.core.bounds import DELAYED_ACK, PROMPT_S, QUIET_S, SETTLE_S
from harness.core.errors import ConformanceFailure, ScenarioNotReached
from harness.tcp.peer import MalformedFrame
from reference_impl.wire.tcp import ACK, FIN, RST, SYN

UNACKNOWLEDGED_S = 0.6  # longer than any delayed ACK may be


def assert_connection_survived(tcp, conn):
    """The target can still send: its application's data arrives at sequence 1."""
    tcp.app_write(conn, b"still here")
    seen = conn.peer.expect_predicted(
        what="data: the connection survived", fields=("seq", "length")
    ).segment
    assert (seen.seq, seen.length) == (1, 10)


def expect_reset(peer, what):
    """The answer the reference gives a segment for a connection that is gone (3.10.7.1):
    an RST at the segment's ACK; the ACK bit on it is allowed, not asked for."""
    seen = peer.expect_predicted(what=what, fields=("seq",)).segment
    if not seen.flags & RST:
        raise ConformanceFailure(f"{what}: the target answered {seen.describe()}, not an RST")


ODD_AND_EVEN = (1, 2, 3, 255, 1001)  # an odd length pads the checksum with a zero byte


@pytest.mark.rfc("9293", "3.1", req="MUST-2")
def test_every_segment_from_the_target_has_a_valid_checksum(tcp):
    """Writes of odd and even lengths, then the FIN. The tester verifies the checksum of
    every frame it takes in; one that fails is MALFORMED (tcp.checksum) and fails the test."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    tcp.set_option(conn, "nodelay", 1)
    # A write that never comes is the scenario not reached; a bad checksum is the subject.
    with tcp.precondition("writes of odd and even lengths, then a FIN", judged=(MalformedFrame,)):
        for size in ODD_AND_EVEN:
            tcp.app_write(conn, bytes(i % 256 for i in range(size)))
            end = peer.rcv_nxt
            peer.expect(seq=end, within=PROMPT_S, skip_others=True, what=f"the {size}-byte write")
            peer.collect(SETTLE_S)  # the rest of the write, if it came in more than one segment
            peer.send(flags=ACK)
        tcp.app_shutdown(conn)
        peer.expect(flags=FIN | ACK, within=PROMPT_S, skip_others=True, what="the FIN")
    segments = [seg for seg in peer.segments if not seg.from_tester]
    odd = sum(1 for seg in segments if seg.length % 2)
    tcp.record("segments verified", f"{len(segments)} ({odd} with an odd number of bytes)")
    if not odd:
        raise ScenarioNotReached("a segment with an odd number of bytes", "none was sent")


@pytest.mark.rfc("9293", "3.1", req="MUST-3")
def test_segment_with_bad_checksum_is_dropped(tcp):
    """A segment whose checksum fails is neither acknowledged nor delivered."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    peer.send(b"bad!" * 25, corrupt_checksum=True)
    peer.expect_predicted_silence(UNACKNOWLEDGED_S, what="a segment with a bad checksum")
    peer.send(b"good" * 25)  # the same sequence number, now intact
    seen = peer.expect_predicted(what="the ACK", bound=DELAYED_ACK, skip_others=True)
    assert seen.segment.ack == 101
    tcp.measure("good segment -> ACK", seen.delay_s)
    if (got := tcp.app_read(conn, 100)) != b"good" * 25:
        raise ConformanceFailure(f"the application read {got[:20]!r}..., not the intact segment")


@pytest.mark.rfc("5961", "3.2", level="MUST")
def test_rst_exactly_at_rcv_nxt_resets_the_connection(tcp):
    """After an exact RST the connection is gone: new data draws a RST from the target."""
    peer = tcp.connect_to_target().peer
    peer.send(flags=RST, seq=1)
    peer.expect_predicted_silence(QUIET_S, what="nothing answers a valid RST")
    peer.send(b"after the reset", seq=1)
    expect_reset(peer, "RST: the connection no longer exists")


@pytest.mark.rfc("5961", "3.2", level="MUST")
def test_rst_in_window_but_not_exact_draws_a_challenge_ack(tcp):
    """An in-window RST that is not at RCV.NXT is answered by an ACK, not obeyed."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    peer.send(flags=RST, seq=1000)
    peer.expect_predicted(what="challenge ACK", fields=("flags", "seq", "ack", "length"))
    assert_connection_survived(tcp, conn)


@pytest.mark.rfc("9293", "3.10.7.4", level="MUST")
def test_rst_outside_the_window_is_ignored(tcp):
    conn = tcp.connect_to_target()
    peer = conn.peer
    peer.send(flags=RST, seq=1 + 10_000_000)
    peer.expect_predicted_silence(QUIET_S, what="an out-of-window RST is dropped silently")
    assert_connection_survived(tcp, conn)


@pytest.mark.rfc("5961", "4.2", level="MUST")
def test_syn_on_an_established_connection_draws_a_challenge_ack(tcp):
    conn = tcp.connect_to_target()
    peer = conn.peer
    peer.send(flags=SYN, seq=5000)
    peer.expect_predicted(what="challenge ACK", fields=("flags", "seq", "ack", "length"))
    assert_connection_survived(tcp, conn)


@pytest.mark.rfc("9293", "3.5.3", req="SHLD-2")
def test_an_rst_carrying_data_resets_the_connection(tcp):
    """An RST at RCV.NXT with a few bytes in it (a reason, say) resets like any other RST:
    new data then draws a RST."""
    peer = tcp.connect_to_target().peer
    peer.send(b"reset: a reason", flags=RST, seq=1)
    peer.expect_predicted_silence(QUIET_S, what="nothing answers a valid RST")
    peer.send(b"after the reset", seq=1)
    expect_reset(peer, "RST: the connection no longer exists")


def close_the_targets_window(tcp, conn):
    """Send data the application does not read, within the window the target advertises,
    until an ACK advertises zero; return that ACK number (the target's RCV.NXT)."""
    peer = conn.peer
    window = 500
    with tcp.precondition("a zero receive window"):
        for _ in range(80):
            peer.send(bytes(min(500, window)))
            ack = peer.expect(flags=ACK, within=tcp.within(DELAYED_ACK), skip_others=True)
            window = ack.segment.window
            if window == 0:
                return ack.segment.ack
    raise ScenarioNotReached("a zero receive window", f"the window is still {window} bytes")


@pytest.mark.rfc("9293", "3.4", req="MUST-66")
def test_an_rst_is_taken_at_a_zero_window(tcp):
    """The target's receive window is zero (its application reads nothing): an RST at
    RCV.NXT is still processed, so data afterwards draws a RST, not a zero-window ACK."""
    conn = tcp.connect_to_target(rcvbuf=4096)
    peer = conn.peer
    rcv_nxt = close_the_targets_window(tcp, conn)
    peer.send(flags=RST, seq=rcv_nxt)
    # By hand: the reference's own window differs from the target's here, so it cannot
    # follow this connection to the end.
    peer.expect_silence(QUIET_S, what="nothing answers a valid RST")
    peer.send(b"after the reset", seq=rcv_nxt)
    peer.expect(
        flags=(RST, RST | ACK), within=PROMPT_S, what="RST: the connection no longer exists"
    )
