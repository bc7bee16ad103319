"""Connection establishment (RFC 9293 section 3.5, processing in 3.10.7.2)."""

import pytest


@pytest.mark.rfc("9293", "3.10.7.2", level="MUST")
def test_syn_ack_acknowledges_isn_plus_one(tcp):
    """A listener answers our SYN with SYN-ACK whose ACK is our ISN + 1 (the SYN takes one
    sequence number); the reference's own answer gives the expected flags and ACK."""
    port, _ = tcp.listen()
    peer = tcp.peer(port)
    peer.send_syn()
    seen = peer.expect_predicted(what="SYN-ACK to our SYN", fields=("flags", "ack"))
    assert seen.segment.ack == 1  # relative: ISN + 1
    tcp.measure("SYN -> SYN-ACK", seen.delay_s)
