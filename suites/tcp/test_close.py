"""Closing a connection: a FIN occupies one sequence number, in both directions
(RFC 9293 sections 3.4 and 3.6; processing in 3.10.7.4, eighth step)."""

import pytest


@pytest.mark.rfc("9293", "3.4", level="MUST")
def test_fin_from_tester_consumes_one_sequence_number(tcp):
    """Our FIN after 100 bytes sits at 101; the target acknowledges it with 102."""
    peer = tcp.connect_to_target().peer
    peer.send(b"d" * 100)
    peer.expect_predicted(what="ACK of the data")
    peer.send(flags="FA")  # seq 101
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
    peer.send(flags="A", ack=101)
    tcp.app_shutdown(conn)
    fin = peer.expect_predicted(what="the target's FIN", fields=("flags", "seq", "length"))
    assert fin.segment.seq == 101
    peer.send(flags="A", ack=102)
    peer.send(flags="FA", ack=102)  # our FIN at 1
    seen = peer.expect_predicted(what="ACK of our FIN, after the target's FIN")
    assert seen.segment.seq == 102 and seen.segment.ack == 2
