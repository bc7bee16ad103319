"""Opening, closing and resetting: every RFC 9293 state and its transitions (3.3.2, 3.10)."""

import pytest

from reference_impl.tcp.connection import TcpConnection, TcpError, rst_for_unknown
from reference_impl.tcp.listener import TcpListener, isn_generator
from reference_impl.tcp.profiles import RFC
from reference_impl.tcp.seq import add
from reference_impl.tcp.states import Event, State, TransitionError, next_state
from reference_impl.wire.tcp import ACK, FIN, RST, SYN, Mss, SackPermitted, TcpSegment, WindowScale
from tests.reference.helpers import ISS, LOCAL, MS, PEER_ISS, REMOTE, established, syn

TW = RFC.time_wait_us


def test_closed_active_open_sends_syn_with_options():
    conn = TcpConnection.connect(LOCAL, REMOTE, iss=ISS, now=0, profile=RFC.with_(window_scale=7))
    (seg,) = conn.outgoing()
    assert conn.state == State.SYN_SENT
    assert seg.flags == SYN and seg.seq == ISS
    assert seg.option(Mss) == Mss(1460) and seg.option(WindowScale) == WindowScale(7)
    assert seg.option(SackPermitted) is not None


def test_syn_sent_syn_ack_establishes_and_acks():
    conn = TcpConnection.connect(LOCAL, REMOTE, iss=ISS, now=0)
    conn.outgoing()
    out = conn.receive_segment(
        TcpSegment(REMOTE, LOCAL, PEER_ISS, add(ISS, 1), SYN | ACK, 1000, options=(Mss(500),)),
        now=10 * MS,
    )
    assert conn.state == State.ESTABLISHED
    assert [(s.flags, s.seq, s.ack) for s in out] == [(ACK, add(ISS, 1), add(PEER_ISS, 1))]
    assert conn.eff_mss == 500 and conn.rtt.srtt_us == 10 * MS


def test_syn_sent_bad_ack_draws_rst_at_that_ack():
    conn = TcpConnection.connect(LOCAL, REMOTE, iss=ISS, now=0)
    conn.outgoing()
    (rst,) = conn.receive_segment(
        TcpSegment(REMOTE, LOCAL, PEER_ISS, ISS + 99, SYN | ACK, 1000), now=0
    )
    assert rst.flags == RST and rst.seq == ISS + 99
    assert conn.state == State.SYN_SENT


def test_syn_sent_rst_with_acceptable_ack_is_refused():
    conn = TcpConnection.connect(LOCAL, REMOTE, iss=ISS, now=0)
    conn.outgoing()
    conn.receive_segment(TcpSegment(REMOTE, LOCAL, 0, add(ISS, 1), RST | ACK, 0), now=0)
    assert conn.state == State.CLOSED and conn.error == "refused"


def test_syn_sent_simultaneous_open_goes_through_syn_received():
    conn = TcpConnection.connect(LOCAL, REMOTE, iss=ISS, now=0)
    conn.outgoing()
    (synack,) = conn.receive_segment(syn(), now=0)
    assert conn.state == State.SYN_RECEIVED
    assert synack.flags == SYN | ACK and synack.seq == ISS and synack.ack == add(PEER_ISS, 1)
    conn.receive_segment(
        TcpSegment(REMOTE, LOCAL, add(PEER_ISS, 1), add(ISS, 1), SYN | ACK, 1000), now=0
    )
    conn.receive_segment(TcpSegment(REMOTE, LOCAL, add(PEER_ISS, 1), add(ISS, 1), ACK, 1000), now=0)
    assert conn.state == State.ESTABLISHED


def test_listen_syn_answers_syn_ack_acking_isn_plus_one():
    listener = TcpListener(LOCAL, isn_generator(b"k"))
    conn, (synack,) = listener.receive_segment(syn(), now=0)
    assert conn is not None and conn.state == State.SYN_RECEIVED
    assert synack.flags == SYN | ACK and synack.ack == add(PEER_ISS, 1)
    assert synack.option(SackPermitted) is None  # the SYN did not offer SACK


def test_listen_ack_draws_rst_and_rst_is_ignored():
    listener = TcpListener(LOCAL, isn_generator(b"k"))
    conn, (rst,) = listener.receive_segment(TcpSegment(REMOTE, LOCAL, 5, 777, ACK, 100), now=0)
    assert conn is None and rst.flags == RST and rst.seq == 777
    assert listener.receive_segment(TcpSegment(REMOTE, LOCAL, 5, 0, RST, 0), now=0) == (None, [])


def test_isn_generator_is_clock_driven_and_keyed():
    gen_a, gen_b = isn_generator(b"a"), isn_generator(b"b")
    assert gen_a(syn(), 4_000_000) - gen_a(syn(), 0) == 1_000_000  # one tick per 4 us
    assert gen_a(syn(), 0) != gen_b(syn(), 0)


def test_syn_received_ack_establishes():
    remote = established()
    assert remote.conn.state == State.ESTABLISHED


def test_syn_received_bad_ack_draws_rst():
    conn = TcpConnection.accept_syn(syn(), iss=ISS, now=0)
    conn.outgoing()
    (rst,) = conn.receive_segment(
        TcpSegment(REMOTE, LOCAL, add(PEER_ISS, 1), ISS + 50, ACK, 100), now=0
    )
    assert rst.flags == RST and rst.seq == ISS + 50 and conn.state == State.SYN_RECEIVED


def test_syn_received_retransmits_syn_ack_on_timeout_and_duplicate_syn():
    conn = TcpConnection.accept_syn(syn(), iss=ISS, now=0)
    conn.outgoing()
    assert conn.next_timer() == RFC.initial_rto_us
    (again,) = conn.on_timer(now=RFC.initial_rto_us)
    assert again.flags == SYN | ACK and conn.next_timer() == 3 * RFC.initial_rto_us  # backed off
    (dup,) = conn.receive_segment(syn(), now=RFC.initial_rto_us + 1)
    assert dup.flags == SYN | ACK


def test_established_close_sends_fin_then_fin_wait_2_then_time_wait():
    remote = established()
    (fin,) = remote.conn.shutdown(now=0)
    assert fin.flags == FIN | ACK and remote.conn.state == State.FIN_WAIT_1
    remote.send(1, ack=2)
    assert remote.conn.state == State.FIN_WAIT_2
    (ack,) = remote.send(1, flags=FIN | ACK, ack=2)
    assert remote.rel_ack(ack) == 2  # the FIN took one sequence number
    assert remote.conn.state == State.TIME_WAIT
    assert remote.conn.next_timer() == remote.now + TW


def test_time_wait_reacknowledges_retransmitted_fin_and_restarts_2msl():
    remote = established()
    remote.conn.shutdown(now=0)
    remote.send(1, ack=2)
    remote.send(1, flags=FIN | ACK, ack=2)
    remote.now = 1000 * MS
    (ack,) = remote.send(1, flags=FIN | ACK, ack=2)
    assert remote.rel_ack(ack) == 2 and ack.flags == ACK
    assert remote.conn.next_timer() == 1000 * MS + TW
    remote.tick((1000 * MS + TW) / MS)
    assert remote.conn.state == State.CLOSED


def test_established_fin_goes_close_wait_then_last_ack_then_closed():
    remote = established()
    assert remote.send(1, flags=FIN | ACK) == []  # the ACK of a FIN may be delayed too
    (ack,) = remote.tick(RFC.ack_delay_us / MS)
    assert remote.rel_ack(ack) == 2 and remote.conn.state == State.CLOSE_WAIT
    assert remote.conn.at_eof
    (fin,) = remote.conn.shutdown(now=0)
    assert fin.flags & FIN and remote.conn.state == State.LAST_ACK
    remote.send(2, ack=2)
    assert remote.conn.state == State.CLOSED and remote.conn.error is None


def test_fin_wait_1_simultaneous_close_goes_closing_then_time_wait():
    remote = established()
    remote.conn.shutdown(now=0)
    (ack,) = remote.send(1, flags=FIN | ACK, ack=1)  # their FIN, not acking ours
    assert remote.conn.state == State.CLOSING and remote.rel_ack(ack) == 2
    remote.send(2, ack=2)
    assert remote.conn.state == State.TIME_WAIT


def test_fin_wait_1_fin_acking_our_fin_goes_straight_to_time_wait():
    remote = established()
    remote.conn.shutdown(now=0)
    remote.send(1, flags=FIN | ACK, ack=2)
    assert remote.conn.state == State.TIME_WAIT


def test_fin_wait_2_half_close_still_receives_data():
    remote = established()
    remote.conn.shutdown(now=0)
    remote.send(1, ack=2)
    remote.send(1, b"still talking", ack=2)
    assert remote.conn.read(100, now=0) == b"still talking"


def test_established_rst_at_rcv_nxt_resets():
    remote = established()
    remote.send(1, flags=RST)
    assert remote.conn.state == State.CLOSED and remote.conn.error == "reset"


def test_established_rst_in_window_but_not_exact_draws_challenge_ack():
    remote = established()
    (ack,) = remote.send(100, flags=RST)
    assert ack.flags == ACK and remote.rel_ack(ack) == 1
    assert remote.conn.state == State.ESTABLISHED


def test_established_rst_outside_window_is_ignored():
    remote = established()
    assert remote.send(200_000, flags=RST) == []
    assert remote.conn.state == State.ESTABLISHED


def test_established_syn_draws_challenge_ack():
    remote = established()
    (ack,) = remote.send(1, flags=SYN)
    assert ack.flags == ACK and remote.conn.state == State.ESTABLISHED


def test_established_abort_sends_rst():
    remote = established()
    (rst,) = remote.conn.abort(now=0)
    assert rst.flags & RST and rst.seq == add(ISS, 1)
    assert remote.conn.state == State.CLOSED and remote.conn.error == "aborted"


def test_closed_send_is_a_clear_error():
    remote = established()
    remote.conn.abort(now=0)
    with pytest.raises(TcpError, match="cannot send in CLOSED"):
        remote.conn.send(b"x", now=0)


def test_transition_table_refuses_impossible_events():
    with pytest.raises(TransitionError, match="not possible in LISTEN"):
        next_state(State.LISTEN, Event.RCV_FIN)


def test_closed_port_answers_rst_per_3_10_7_1():
    with_ack = rst_for_unknown(TcpSegment(REMOTE, LOCAL, 10, 555, ACK, 100))
    assert with_ack is not None and (with_ack.flags, with_ack.seq) == (RST, 555)
    without = rst_for_unknown(TcpSegment(REMOTE, LOCAL, 10, 0, SYN, 100, b"ab"))
    assert without is not None and (without.flags, without.ack) == (RST | ACK, 13)
    assert rst_for_unknown(TcpSegment(REMOTE, LOCAL, 10, 0, RST, 0)) is None


def test_syn_sent_gives_up_after_syn_retries():
    conn = TcpConnection.connect(LOCAL, REMOTE, iss=ISS, now=0, profile=RFC.with_(syn_retries=2))
    conn.outgoing()
    while conn.state != State.CLOSED:
        conn.on_timer(now=conn.next_timer())
    assert conn.error == "timeout"


def test_established_data_across_the_2_32_wrap_is_accepted():
    remote = established()  # the peer's numbers start 296 below 2**32
    for i in range(4):
        remote.send(1 + 100 * i, bytes([i]) * 100)
    assert remote.conn.rcv_nxt == add(PEER_ISS, 401) < PEER_ISS  # wrapped past 2**32
    assert remote.conn.read(1000, now=0) == b"".join(bytes([i]) * 100 for i in range(4))


def test_established_bad_checksum_is_dropped_silently():
    from reference_impl.tcp import decode_checked

    remote = established()
    raw = bytearray(remote.seg(1, data=b"corrupt me").emit("198.18.0.1", "198.18.0.2"))
    assert decode_checked("198.18.0.1", "198.18.0.2", bytes(raw)) is not None
    raw[-1] ^= 0xFF
    assert (
        decode_checked("198.18.0.1", "198.18.0.2", bytes(raw)) is None
    )  # never reaches the connection
    assert decode_checked("198.18.0.1", "198.18.0.2", b"\x00" * 7) is None
    assert remote.conn.readable == 0


def test_profile_refuses_a_delayed_ack_of_500_ms():
    with pytest.raises(ValueError, match="MUST-40"):
        RFC.with_(ack_delay_us=500 * MS)


def test_syn_received_simultaneous_open_syn_ack_at_the_isn_completes():
    """RFC 9293 figure 8: each side's SYN-ACK repeats its SYN; trimmed, its ACK completes."""
    conn = TcpConnection.connect(LOCAL, REMOTE, iss=ISS, now=0)
    conn.outgoing()
    conn.receive_segment(syn(), now=0)  # crossing SYNs: now SYN-RECEIVED
    conn.receive_segment(TcpSegment(REMOTE, LOCAL, PEER_ISS, add(ISS, 1), SYN | ACK, 1000), now=1)
    assert conn.state == State.ESTABLISHED


def test_established_repeated_syn_ack_is_answered_with_an_ack():
    remote = established()
    (ack,) = remote.deliver(TcpSegment(REMOTE, LOCAL, PEER_ISS, add(ISS, 1), SYN | ACK, 1000))
    assert ack.flags == ACK and remote.rel_ack(ack) == 1


@pytest.mark.parametrize("iss", [1, 2**31 + 5, 2**32 - 1])
def test_syn_received_final_ack_sets_the_send_window_whatever_the_isn(iss):
    """SND.WL1/WL2 come from the handshake's ACK, so the next window update is taken."""
    conn = TcpConnection.accept_syn(syn(), iss=iss, now=0)
    conn.outgoing()
    conn.receive_segment(TcpSegment(REMOTE, LOCAL, add(PEER_ISS, 1), add(iss, 1), ACK, 5000), now=1)
    assert conn.snd_wnd == 5000
    conn.receive_segment(TcpSegment(REMOTE, LOCAL, add(PEER_ISS, 1), add(iss, 1), ACK, 0), now=2)
    assert conn.snd_wnd == 0
