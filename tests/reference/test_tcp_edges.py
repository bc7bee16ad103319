"""Edges of the reference connection found by fuzzing and by hand (each fixed; each failed
before its fix)."""

from reference_impl.tcp.connection import TcpConnection
from reference_impl.tcp.profiles import RFC
from reference_impl.tcp.seq import add
from reference_impl.tcp.states import State
from reference_impl.wire.tcp import ACK, FIN, RST, SYN
from tests.reference.helpers import ISS, PEER_ISS, Remote, established, syn


def syn_received(profile=RFC) -> Remote:
    conn = TcpConnection.accept_syn(syn(), iss=ISS, now=0, profile=profile)
    conn.outgoing()
    return Remote(conn)


def test_syn_received_close_with_data_queued_waits_for_the_handshake():
    """RFC 9293 3.10.4: CLOSE in SYN-RECEIVED with data pending is queued until ESTABLISHED;
    until then the only segment to (re)send is the SYN-ACK, at the ISN."""
    remote = syn_received()
    conn = remote.conn
    assert conn.send(b"queued", now=0) == []
    assert conn.shutdown(now=0) == []
    again = remote.tick(1100)
    assert [(s.flags, s.seq) for s in again] == [(SYN | ACK, ISS)]
    out = remote.send(1, ack=1)  # the handshake completes
    assert conn.state == State.FIN_WAIT_1
    assert [(s.flags & ~ACK, s.seq, s.payload) for s in out] == [
        (FIN | 0x08, add(ISS, 1), b"queued")  # PSH on the last (only) segment, with the FIN
    ]


def test_syn_received_close_without_data_sends_fin_and_keeps_retransmitting_the_syn():
    """With nothing queued, CLOSE in SYN-RECEIVED sends a FIN (3.10.4) at ISS + 1; while the
    SYN is unacknowledged the timer resends the SYN-ACK, never anything at the ISN but it."""
    remote = syn_received()
    conn = remote.conn
    (fin,) = conn.shutdown(now=0)
    assert fin.flags & FIN and fin.seq == add(ISS, 1)
    again = remote.tick(1100)
    assert (again[0].flags, again[0].seq) == (SYN | ACK, ISS)
    assert all(s.seq != ISS for s in again[1:])


def test_an_ack_too_old_to_believe_is_answered_with_an_ack():
    """RFC 5961 5.2: an ACK below SND.UNA - MAX.SND.WND is discarded and an ACK sent back."""
    remote = established()
    conn = remote.conn
    old = add(conn.snd_una, -(conn.max_snd_wnd + 10))
    out = remote.deliver(_with_ack(remote.seg(1, ACK, b"x"), old))
    assert [(s.flags, s.ack) for s in out] == [(ACK, add(PEER_ISS, 1))]
    assert conn.rcv_nxt == add(PEER_ISS, 1)  # and the data was not taken


def _with_ack(segment, ack):
    import dataclasses

    return dataclasses.replace(segment, ack=ack)


def test_an_rst_at_rcv_nxt_resets_even_at_a_zero_window():
    """MUST-66: RST is processed at a zero receive window, data on it notwithstanding."""
    remote = established(RFC.with_(rcvbuf=1460, mss=1460))
    conn = remote.conn
    remote.send(1, b"x" * 1460)  # fills the window; nobody reads
    assert conn._rcv_wnd() == 0
    remote.send(1461, b"junk", flags=RST | ACK)
    assert conn.state == State.CLOSED and conn.error == "reset"


def test_data_past_the_peers_fin_leaves_nothing_queued():
    """Bytes beyond an out-of-order FIN can never be delivered: once the FIN is in, nothing
    stays in the out-of-order queue (no stale SACK block, no window taken)."""
    remote = established(RFC.with_(sack=True), sack=True)
    conn = remote.conn
    remote.send(101, b"b" * 100, flags=ACK | FIN)  # out of order, FIN at 201
    remote.send(301, b"junk" * 10)  # beyond the FIN
    remote.send(1, b"a" * 100)  # fills the hole: data, then the FIN
    assert conn.state == State.CLOSE_WAIT
    assert conn.ooo.queued_bytes == 0 and not conn.ooo.blocks_
    assert conn.readable == 200
