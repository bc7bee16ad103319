"""Closing a connection: a FIN occupies one sequence number, in both directions
(RFC 9293 sections 3.4 and 3.6; processing in 3.10.7.4, eighth step)."""

import pytest

DELAYED_ACK_LIMIT_S = 0.5


@pytest.mark.rfc("9293", "3.4", level="MUST")
def test_fin_from_tester_consumes_one_sequence_number(tcp, tolerance):
    """Our FIN after 100 bytes sits at 101; the target acknowledges it with 102."""
    peer = tcp.connect_to_target().peer
    peer.send(b"d" * 100)
    peer.expect(flags="A", ack=101, within=tolerance.widen(DELAYED_ACK_LIMIT_S))
    peer.send(flags="FA")  # seq 101
    seen = peer.expect(
        flags="A", ack=102, within=tolerance.widen(DELAYED_ACK_LIMIT_S), what="ACK of our FIN"
    )
    tcp.measure("FIN -> ACK", seen.delay_s)


@pytest.mark.rfc("9293", "3.4", level="MUST")
def test_fin_from_target_consumes_one_sequence_number(tcp, tolerance):
    """The target's FIN after 100 bytes sits at 101; once we acknowledge 102, the target's
    next segment (its ACK of our FIN) carries sequence number 102."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    tcp.control.request("send", handle=conn.handle, size=100)
    peer.expect(flags=("A", "PA"), seq=1, length=100, within=1.0, what="100 bytes of data")
    peer.send(flags="A", ack=101)
    tcp.control.request("shutdown", handle=conn.handle, how="wr")
    peer.expect(flags="FA", seq=101, length=0, within=1.0, what="the target's FIN")
    peer.send(flags="A", ack=102)
    peer.send(flags="FA", ack=102)  # our FIN at 1
    peer.expect(
        flags="A",
        seq=102,
        ack=2,
        within=tolerance.widen(DELAYED_ACK_LIMIT_S),
        what="ACK of our FIN, after the target's FIN",
    )
