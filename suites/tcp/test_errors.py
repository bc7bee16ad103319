"""Bad input from the peer: bad checksums, RSTs in and out of the window, SYNs in a
synchronized state (RFC 9293 3.1, 3.10.7.4; RFC 5961 3.2 and 4.2)."""

import pytest

from harness.core.bounds import DELAYED_ACK, PROMPT_S, QUIET_S
from harness.core.errors import ConformanceFailure
from reference_impl.wire.tcp import ACK, RST, SYN

UNACKNOWLEDGED_S = 0.6  # longer than any delayed ACK may be


def assert_connection_survived(tcp, conn):
    """The target can still send: its application's data arrives at sequence 1."""
    tcp.app_write(conn, b"still here")
    conn.peer.expect(seq=1, length=10, within=PROMPT_S, what="data: the connection survived")


@pytest.mark.rfc("9293", "3.1", req="MUST-3")
def test_segment_with_bad_checksum_is_dropped(tcp):
    """A segment whose checksum fails is neither acknowledged nor delivered."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    peer.send(b"bad!" * 25, corrupt_checksum=True)
    peer.expect_silence(UNACKNOWLEDGED_S, what="a segment with a bad checksum")
    peer.send(b"good" * 25)  # the same sequence number, now intact
    seen = peer.expect(flags=ACK, ack=101, within=tcp.within(DELAYED_ACK), skip_others=True)
    tcp.measure("good segment -> ACK", seen.delay_s)
    if (got := tcp.app_read(conn, 100)) != b"good" * 25:
        raise ConformanceFailure(f"the application read {got[:20]!r}..., not the intact segment")


@pytest.mark.rfc("5961", "3.2", level="MUST")
def test_rst_exactly_at_rcv_nxt_resets_the_connection(tcp):
    """After an exact RST the connection is gone: new data draws a RST from the target."""
    peer = tcp.connect_to_target().peer
    peer.send(flags=RST, seq=1)
    peer.expect_silence(QUIET_S, what="nothing answers a valid RST")
    peer.send(b"after the reset", seq=1)
    peer.expect(
        flags=(RST, RST | ACK), within=PROMPT_S, what="RST: the connection no longer exists"
    )


@pytest.mark.rfc("5961", "3.2", level="MUST")
def test_rst_in_window_but_not_exact_draws_a_challenge_ack(tcp):
    """An in-window RST that is not at RCV.NXT is answered by an ACK, not obeyed."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    peer.send(flags=RST, seq=1000)
    peer.expect(flags=ACK, ack=1, length=0, within=PROMPT_S, what="challenge ACK")
    assert_connection_survived(tcp, conn)


@pytest.mark.rfc("9293", "3.10.7.4", level="MUST")
def test_rst_outside_the_window_is_ignored(tcp):
    conn = tcp.connect_to_target()
    peer = conn.peer
    peer.send(flags=RST, seq=1 + 10_000_000)
    peer.expect_silence(QUIET_S, what="an out-of-window RST is dropped silently")
    assert_connection_survived(tcp, conn)


@pytest.mark.rfc("5961", "4.2", level="MUST")
def test_syn_on_an_established_connection_draws_a_challenge_ack(tcp):
    conn = tcp.connect_to_target()
    peer = conn.peer
    peer.send(flags=SYN, seq=5000)
    peer.expect(flags=ACK, ack=1, length=0, within=PROMPT_S, what="challenge ACK")
    assert_connection_survived(tcp, conn)
