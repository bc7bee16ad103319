"""Nagle's algorithm (RFC 9293 3.7.4, RFC 1122 4.2.3.4): while a small segment is
unacknowledged, further small writes wait; an application can turn that off.

Only the first 100 ms after the second write are watched for it: a tail-loss probe (RFC
8985) may carry new data later, whatever Nagle says, and is not what this is about.
"""

import pytest

from harness.core.bounds import PROMPT_S
from harness.core.errors import ConformanceFailure
from reference_impl.wire.tcp import ACK

HELD_S = 0.1  # a sender without Nagle sends the second write within a millisecond or two


def second_small_write(tcp, conn):
    """100 bytes go out and stay unacknowledged; then the application writes 100 more.
    Returns the segments carrying the second write within ``HELD_S``."""
    peer = conn.peer
    with tcp.precondition("a small segment in flight"):
        tcp.app_write(conn, b"a" * 100)
        peer.expect_predicted(what="the first 100 bytes", fields=("seq", "length"))
    tcp.app_write(conn, b"b" * 100)
    return [seg for seg in peer.collect(HELD_S) if seg.seq + seg.length > 101]


@pytest.mark.rfc("9293", "3.7.4", req="SHLD-7")
def test_a_small_write_waits_while_a_small_segment_is_unacknowledged(tcp):
    conn = tcp.connect_to_target()
    early = second_small_write(tcp, conn)
    if early:
        raise ConformanceFailure(
            f"the second small write left at once with 100 bytes unacknowledged (no Nagle): "
            f"{early[0].describe()}"
        )
    conn.peer.send(flags=ACK, ack=101)
    held = conn.peer.expect_predicted(
        what="the held write, once ACKed",
        fields=("seq", "length"),
        skip_others=True,
        bound=PROMPT_S,
    ).segment
    assert (held.seq, held.length) == (101, 100)


@pytest.mark.rfc("9293", "3.7.4", req="MUST-17")
def test_the_application_can_turn_nagle_off(tcp):
    """With nodelay set, the second small write leaves at once, unacknowledged data or not."""
    conn = tcp.connect_to_target()
    tcp.set_option(conn, "nodelay", 1)
    if not second_small_write(tcp, conn):
        raise ConformanceFailure(
            f"with nodelay set the second small write did not leave within "
            f"{HELD_S * 1000:.0f} ms while 100 bytes were unacknowledged"
        )
