"""Closing a connection: a FIN occupies one sequence number, in both directions
(RFC 9293 sections 3.4 and 3.6; processing in 3.10.7.4, eighth step)."""

import pytest

from harness.core.bounds import DELAYED_ACK, INITIAL_RTO, OLD_INITIAL_RTO, QUIET_S
from harness.core.errors import ConformanceFailure
from reference_impl.wire.tcp import ACK, FIN, RST


@pytest.mark.rfc("9293", "3.4", level="MUST")
def test_fin_from_tester_consumes_one_sequence_number(tcp):
    """Our FIN after 100 bytes sits at 101; the target acknowledges it with 102."""
    peer = tcp.connect_to_target().peer
    peer.send(b"d" * 100)
    peer.expect_predicted(what="ACK of the data")
    peer.send(flags=FIN | ACK)  # seq 101
    seen = peer.expect_predicted(what="ACK of our FIN")
    assert seen.segment.ack == 102
    tcp.measure("FIN -> ACK", seen.delay_s)


@pytest.mark.rfc("9293", "3.4", level="MUST")
def test_fin_from_target_consumes_one_sequence_number(tcp):
    """The target's FIN after 100 bytes sits at 101; once we acknowledge 102, the target's
    next segment (its ACK of our FIN) carries sequence number 102."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    tcp.app_write(conn, b"w" * 100)
    peer.expect_predicted(what="100 bytes of data", fields=("seq", "ack", "length"))
    peer.send(flags=ACK, ack=101)
    tcp.app_shutdown(conn)
    fin = peer.expect_predicted(what="the target's FIN", fields=("flags", "seq", "length"))
    assert fin.segment.seq == 101
    peer.send(flags=ACK, ack=102)
    peer.send(flags=FIN | ACK, ack=102)  # our FIN at 1
    seen = peer.expect_predicted(what="ACK of our FIN, after the target's FIN")
    assert seen.segment.seq == 102 and seen.segment.ack == 2


def close_from_target(tcp):
    """The target closes first; we acknowledge its FIN. Returns (connection, peer)."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    tcp.app_shutdown(conn)
    assert peer.expect_predicted(what="the target's FIN").segment.seq == 1
    peer.send(flags=ACK, ack=2)
    return conn, peer


@pytest.mark.rfc("9293", "3.6", level="MUST")
def test_four_way_close_target_first(tcp):
    """Target FIN, our ACK, our FIN, the target's ACK of it (TIME-WAIT on the target)."""
    _conn, peer = close_from_target(tcp)
    peer.send(flags=FIN | ACK, ack=2)
    seen = peer.expect_predicted(what="ACK of our FIN", bound=DELAYED_ACK).segment
    assert (seen.seq, seen.ack) == (2, 2)


@pytest.mark.rfc("9293", "3.6", level="MUST")
def test_four_way_close_tester_first(tcp):
    """Our FIN, the target's ACK; then the application closes: the target's FIN at 1."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    peer.send(flags=FIN | ACK)
    assert peer.expect_predicted(what="ACK of our FIN", bound=DELAYED_ACK).segment.ack == 2
    tcp.app_shutdown(conn)
    fin = peer.expect_predicted(what="the target's FIN (LAST-ACK)").segment
    assert (fin.seq, fin.ack) == (1, 2)
    peer.send(flags=ACK, seq=2, ack=2)
    peer.expect_predicted_silence(QUIET_S, what="the close is complete")


@pytest.mark.rfc("9293", "3.6", level="MUST")
def test_half_close_lets_data_flow_the_other_way(tcp):
    """After our FIN the target's application still writes, and we still receive: a
    connection closes one direction at a time (CLOSE-WAIT still sends, 3.6 and 3.10.2)."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    with tcp.precondition("a connection half-closed by the tester"):
        peer.send(flags=FIN | ACK)
        peer.expect_predicted(what="ACK of our FIN", bound=DELAYED_ACK)
    tcp.app_write(conn, b"half-closed but talking")
    peer.expect_predicted(what="data after our FIN", fields=("seq", "length"), skip_others=True)


@pytest.mark.rfc("9293", "3.6", level="MUST")
def test_unacknowledged_fin_is_retransmitted(tcp):
    """We never acknowledge the target's FIN: it comes again, at the same sequence number."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    tcp.app_shutdown(conn)
    first = peer.expect_predicted(what="the target's FIN").segment
    again = peer.expect(
        flags=FIN | ACK, seq=1, within=tcp.within(OLD_INITIAL_RTO), what="the FIN retransmitted"
    ).segment
    tcp.measure(
        "FIN -> its retransmission", (again.ts_ns - first.ts_ns) / 1e9, INITIAL_RTO, OLD_INITIAL_RTO
    )


@pytest.mark.rfc("9293", "3.6.1", req="MUST-13")
def test_time_wait_reacknowledges_a_retransmitted_fin(tcp):
    """In TIME-WAIT the target answers our repeated FIN with the same ACK."""
    _conn, peer = close_from_target(tcp)
    peer.send(flags=FIN | ACK, ack=2)
    peer.expect_predicted(what="ACK of our FIN", bound=DELAYED_ACK)
    peer.send(flags=FIN | ACK, seq=1, ack=2)  # as if the ACK had been lost
    again = peer.expect_predicted(what="the same ACK again, from TIME-WAIT", bound=DELAYED_ACK)
    assert (again.segment.seq, again.segment.ack) == (2, 2)


@pytest.mark.rfc("9293", "3.6", level="MUST")
def test_simultaneous_close(tcp):
    """Both FINs cross: the target acknowledges ours from CLOSING, then takes our ACK."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    tcp.app_shutdown(conn)
    peer.expect_predicted(what="the target's FIN")
    peer.send(flags=FIN | ACK, ack=1)  # our FIN, not yet acknowledging theirs
    seen = peer.expect_predicted(
        what="ACK of our FIN from CLOSING", bound=DELAYED_ACK, skip_others=True
    ).segment
    assert (seen.seq, seen.ack) == (2, 2)
    peer.send(flags=ACK, seq=2, ack=2)
    peer.expect_predicted_silence(QUIET_S, what="both sides closed")


@pytest.mark.rfc("9293", "3.6.1", req="SHLD-3")
def test_closing_with_unread_data_sends_rst(tcp):
    """100 bytes arrive and are acknowledged but never read; the application closes: the
    target sends RST, not FIN, to show the data was lost."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    with tcp.precondition("100 bytes acknowledged, unread"):
        peer.send(b"u" * 100)
        peer.expect_predicted(what="the ACK", bound=DELAYED_ACK)
    tcp.app_close(conn)
    rst = peer.expect_predicted(what="RST for the unread data", fields=("seq",)).segment
    if not rst.flags & RST:
        raise ConformanceFailure(f"the close with data unread sent {rst.describe()}, not RST")


@pytest.mark.rfc("9293", "3.6.1", req="SHLD-3")
def test_data_after_a_full_close_draws_rst(tcp):
    """The application closes (its FIN goes out); 100 bytes that arrive afterwards can never
    be read: the target answers them with RST."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    tcp.app_close(conn)
    with tcp.precondition("the target's FIN after the close"):
        peer.expect_predicted(what="the target's FIN")
    peer.send(b"late" * 25)
    rst = peer.expect_predicted(
        what="RST for data after close", fields=("seq",), skip_others=True
    ).segment
    if not rst.flags & RST:
        raise ConformanceFailure(f"data after a full close drew {rst.describe()}, not RST")
