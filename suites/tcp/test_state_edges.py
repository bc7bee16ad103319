"""What every state does with segments it must not take: data outside the receive window, an
ACK of data never sent, an RST outside the window or exactly at RCV.NXT (RFC 9293 3.10.7.3
and 3.10.7.4), each check run in every state it applies to, as gVisor's packetimpact does
(tcp_outside_the_window, tcp_unacc_seq_ack, synsent_reset, synrcvd_reset).

The answers come from the oracle (the reference connection in the same state), compared on
flags, sequence and acknowledgement numbers; a target's FIN retransmitted meanwhile (in the
states where it is unacknowledged) is skipped, not judged.
"""

import pytest

from harness.core.errors import ConformanceFailure
from harness.tcp.states import (
    RECEIVING,
    SYNCHRONIZED,
    holding_ack,
    reach,
    send_stray,
)
from reference_impl.wire.tcp import ACK, FIN, PSH, RST, SYN

FAR = 1 << 30  # a quarter of the sequence space ahead: outside any receive window
RESET = (RST, RST | ACK)


def rfc(req: str, section: str = "3.10.7.4") -> pytest.MarkDecorator:
    return pytest.mark.rfc("9293", section, req=req)


def still_there(tcp, conn, state):
    """The connection survives: data is acknowledged in the states that still receive; in the
    others our FIN, sent again, is acknowledged again (an old duplicate)."""
    peer = conn.peer
    ack = holding_ack(state)
    if state in RECEIVING:
        peer.send(b"alive", ack=ack)
        peer.expect_predicted(what="the ACK of data after the stray segment", skip_others=True)
        return
    send_stray(conn, flags=FIN | ACK, seq=peer.snd_nxt - 1, ack=ack)
    peer.expect_predicted(what="the ACK of our FIN sent again", skip_others=True)


@pytest.mark.parametrize("state", ["SYN-RECEIVED", *SYNCHRONIZED])
@rfc("unacceptable-segment-acked")
def test_data_outside_the_window_draws_an_ack(tcp, state):
    """Ten bytes a quarter of the sequence space ahead are not acceptable: the target
    answers <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and drops them."""
    conn = reach(tcp, state)
    ack = holding_ack(state) if state != "SYN-RECEIVED" else 1
    send_stray(conn, b"x" * 10, seq=conn.peer.snd_nxt + FAR, ack=ack)
    seen = conn.peer.expect_predicted(what="an ACK of the stray segment", skip_others=True)
    tcp.measure("stray segment -> ACK", seen.delay_s)


@pytest.mark.parametrize(
    "state", ["ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING"]
)
@rfc("unsent-data-ack-acked")
def test_an_ack_of_data_never_sent_draws_an_ack(tcp, state):
    """A bare ACK 1000 bytes beyond what the target has sent (SEG.ACK > SND.NXT): the target
    sends an ACK and drops it (3.10.7.4, fifth check; RFC 5961 5.2 makes it a MUST for the
    stacks that implement that mitigation)."""
    conn = reach(tcp, state)
    peer = conn.peer
    send_stray(conn, flags=ACK, ack=peer.rcv_nxt + 1000)
    seen = peer.expect_predicted(what="an ACK of the impossible ACK", skip_others=True)
    tcp.measure("impossible ACK -> ACK", seen.delay_s)


@rfc("syn-received-bad-ack-reset")
def test_syn_received_answers_an_ack_of_data_never_sent_with_rst(tcp):
    """In SYN-RECEIVED an ACK that does not acknowledge the SYN (here SYN + 1000) draws
    <SEQ=SEG.ACK><CTL=RST>."""
    conn = reach(tcp, "SYN-RECEIVED")
    conn.peer.send(flags=ACK, ack=1001)
    rst = conn.peer.expect_predicted(
        what="RST at the ACK's number", fields=("seq",), skip_others=True
    ).segment
    if not rst.flags & RST:
        raise ConformanceFailure(f"not an RST at 1001: {rst.describe()}")


@pytest.mark.parametrize("state", ["SYN-RECEIVED", *SYNCHRONIZED])
@rfc("out-of-window-rst-ignored")
def test_an_rst_outside_the_window_is_ignored(tcp, state):
    """An RST a quarter of the sequence space ahead is not valid: the connection goes on."""
    conn = reach(tcp, state)
    peer = conn.peer
    send_stray(conn, flags=RST | ACK, seq=peer.snd_nxt + FAR, ack=holding_ack(state))
    if state == "SYN-RECEIVED":
        peer.send(flags=ACK)  # completes the handshake the RST did not end
        peer.send(b"alive")
        peer.expect_predicted(what="the ACK of data after the handshake", skip_others=True)
        return
    still_there(tcp, conn, state)


def closed(conn, what):
    """The target has no connection any more: our data draws RST <SEQ=SEG.ACK> (3.10.7.1)."""
    peer = conn.peer
    peer.send(b"gone?", flags=PSH | ACK)
    rst = peer.expect_predicted(
        what=f"RST for a connection {what}", fields=("seq",), skip_others=True
    ).segment
    if not rst.flags & RST:
        raise ConformanceFailure(f"the connection {what} answered {rst.describe()}, not RST")


@pytest.mark.parametrize(
    "state", ["ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK"]
)
@rfc("rst-resets")
def test_an_rst_at_rcv_nxt_ends_the_connection(tcp, state):
    conn = reach(tcp, state)
    peer = conn.peer
    peer.send(flags=RST | ACK, ack=holding_ack(state))
    closed(conn, f"reset in {state}")


@rfc("MUST-11", "3.5")
def test_an_rst_in_syn_received_returns_to_listen(tcp):
    """An RST to a passive SYN-RECEIVED ends that connection (the ACK that would have
    completed it draws RST) and the listener stays: a new SYN is answered."""
    conn = reach(tcp, "SYN-RECEIVED")
    peer = conn.peer
    peer.send(flags=RST, seq=1)
    closed(conn, "reset in SYN-RECEIVED")
    again = tcp.peer(peer.target_port)
    again.send_syn()
    tcp.observe(again, conn.handle)
    again.expect_predicted(what="a SYN-ACK from the listener", fields=("flags", "ack"))


@rfc("syn-sent-rst", "3.10.7.3")
def test_syn_sent_takes_an_rst_that_acknowledges_its_syn(tcp):
    """RST|ACK acknowledging the SYN refuses the connection: our SYN-ACK after it finds
    none (RST), and the SYN is not sent again."""
    conn = reach(tcp, "SYN-SENT")
    peer = conn.peer
    peer.send(flags=RST | ACK, seq=0, ack=1)
    peer.send(flags=SYN | ACK, seq=0, ack=1)
    rst = peer.expect_predicted(what="RST for the SYN-ACK after the reset", fields=("seq",))
    if not rst.segment.flags & RST:
        raise ConformanceFailure(f"the refused attempt answered {rst.segment.describe()}")


@pytest.mark.parametrize("ack", [None, 1000], ids=["without-ack", "with-an-unacceptable-ack"])
@rfc("syn-sent-rst", "3.10.7.3")
def test_syn_sent_drops_an_rst_that_does_not_acknowledge_its_syn(tcp, ack):
    """An RST without an ACK, or whose ACK is not SYN + 1, is dropped: our SYN-ACK after it
    completes the connection."""
    conn = reach(tcp, "SYN-SENT")
    peer = conn.peer
    if ack is None:
        peer.send(flags=RST, seq=0)
    else:
        peer.send(flags=RST | ACK, seq=0, ack=ack)
    peer.send(flags=SYN | ACK, seq=0, ack=1)
    peer.expect_predicted(what="the ACK of our SYN-ACK", skip_others=True)
