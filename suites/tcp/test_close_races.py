"""Closes that race something: a write just before, data still unacknowledged, a zero window,
the peer's own FIN, the ACK of the FIN lost (RFC 9293 3.10.4, the CLOSE call; 3.4 and 3.6
for the FIN).

Each test checks the whole close: every byte written before close() arrives in order
(compared by SHA-256 for the large writes), a FIN follows, and it takes exactly one sequence
number. Bugs here tend to show in a few percent of closes, so these tests carry the
``stress`` marker: ``--stress N`` runs them N times each, each run with its own data and
pause before the close (README, "Stress").
"""

import random

import pytest

from harness.core.bounds import DELAYED_ACK, OLD_INITIAL_RTO, PROMPT_S, SETTLE_S
from harness.core.errors import ScenarioNotReached
from harness.tcp.stream import (
    Received,
    WriteThenClose,
    check_stream,
    finish_close,
    read_to_fin,
)
from reference_impl.wire.tcp import ACK, FIN

pytestmark = [pytest.mark.stress, pytest.mark.rfc("9293", "3.10.4", level="MUST")]

# 1 byte; a little over three full segments; 100 kB, far more than an initial window.
SIZES = [1, 3 * 1460 + 7, 100_000]
PAUSES_S = (0.0, 0.0, 0.001, 0.01)  # mostly none: the race is a close right after the write


def written_for(run: int, size: int) -> tuple[bytes, float]:
    """This run's data and pause before the close: varied from run to run, the same for
    the same run number (a failing run can be repeated as it was)."""
    rng = random.Random(run * 1_000_003 + size)
    return rng.randbytes(size), rng.choice(PAUSES_S)


def close_and_read(tcp, conn, data: bytes, pause_s: float, **reading):
    """The application writes and closes while the tester reads the stream to the FIN."""
    writer = WriteThenClose(tcp, conn, data, pause_s)
    writer.start()
    got = read_to_fin(conn.peer, **reading)
    writer.finished()
    return got


@pytest.mark.parametrize("size", SIZES, ids=lambda n: f"{n}B")
def test_close_right_after_a_write_sends_all_the_data_then_one_fin(tcp, netconform_run, size):
    conn = tcp.connect_to_target()
    data, pause_s = written_for(netconform_run, size)
    got = close_and_read(tcp, conn, data, pause_s)
    check_stream(got, data)
    finish_close(conn.peer, got, within=tcp.within(DELAYED_ACK))


def test_close_with_the_data_unacknowledged_still_sends_the_fin(tcp, netconform_run):
    """The tester acknowledges nothing for a while after the write: the close finds all the
    data in flight. 3 kB fits any initial window (RFC 5681 3.1), so nothing waits for us."""
    conn = tcp.connect_to_target()
    data, pause_s = written_for(netconform_run, 3000)
    got = close_and_read(tcp, conn, data, pause_s, hold_acks_s=tcp.within(DELAYED_ACK))
    check_stream(got, data)
    finish_close(conn.peer, got, within=tcp.within(DELAYED_ACK))


def test_close_whose_fin_ack_is_lost_sends_the_fin_again(tcp, netconform_run):
    """The tester acknowledges the data but its ACK of the FIN is lost (it acknowledges up
    to the FIN, not past it): the FIN is in the retransmission queue and must come again,
    at the same sequence number."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    data, pause_s = written_for(netconform_run, 3000)
    got = close_and_read(tcp, conn, data, pause_s, acknowledge_fin=False)
    check_stream(got, data)
    peer.send(flags=ACK, ack=got.data_end)  # the data again, never the FIN
    again = peer.expect(
        flags=FIN | ACK,
        seq=got.data_end,
        within=tcp.within(OLD_INITIAL_RTO),
        skip_others=True,
        what="the FIN again, its ACK lost",
    ).segment
    finish_close(peer, Received(got.data, again), within=tcp.within(DELAYED_ACK))


def test_close_behind_a_zero_window_sends_the_rest_and_the_fin_once_it_opens(tcp, netconform_run):
    """The tester's window admits 1000 bytes; it acknowledges them with a window of zero,
    the application writes 3000 more and closes, and the window opens: all 4000 bytes and
    the FIN must follow."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    first, _ = written_for(netconform_run, 1000)
    rest, pause_s = written_for(netconform_run, 3000)
    with tcp.precondition("the first 1000 bytes, acknowledged with a zero window"):
        tcp.app_write(conn, first)
        peer.expect(seq=1, length=1000, within=PROMPT_S, skip_others=True, what="1000 bytes")
    peer.send(flags=ACK, ack=1001, window=0)
    writer = WriteThenClose(tcp, conn, rest, pause_s)
    writer.start()
    peer.collect(SETTLE_S * 4)  # a zero-window probe, or nothing: both allowed
    peer.send(flags=ACK, ack=1001, window=65535)
    got = read_to_fin(peer)
    writer.finished()
    check_stream(got, first + rest)
    finish_close(peer, got, within=tcp.within(DELAYED_ACK))


def test_close_racing_the_peers_fin_still_sends_one_fin_after_the_data(tcp, netconform_run):
    """Simultaneous close with data: our FIN reaches the target as its application writes
    and closes. The target acknowledges our FIN, and its own FIN follows all its data."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    data, pause_s = written_for(netconform_run, 2000)
    peer.send(flags=FIN | ACK)  # our FIN at 1
    got = close_and_read(tcp, conn, data, pause_s)
    check_stream(got, data)
    if not any(seg.has(ACK) and seg.ack >= peer.snd_nxt for seg in got.segments):
        raise ScenarioNotReached("a simultaneous close", "the target never acknowledged our FIN")
    peer.expect_silence(tcp.within(DELAYED_ACK), what="after the close completed")


# With ACKs lost, a retransmission may need its own ACK lost again before one gets through:
# a stall of a few backed-off RTOs is the loss, not the close.
LOSSY_STALL_S = 30.0


def test_close_with_acks_lost_on_the_way_still_sends_every_byte_then_one_fin(
    lossy_tcp, netconform_run
):
    """100 kB, and a fifth of the tester's ACKs never reach the target (the impairment relay
    drops them): the target retransmits what is unacknowledged, and after the close every
    byte and then one FIN still arrive."""
    conn = lossy_tcp.connect_to_target()
    data, pause_s = written_for(netconform_run, SIZES[-1])
    got = close_and_read(lossy_tcp, conn, data, pause_s, idle=LOSSY_STALL_S)
    check_stream(got, data, idle=LOSSY_STALL_S)
    finish_close(conn.peer, got, within=lossy_tcp.within(OLD_INITIAL_RTO))
    ours = f"{conn.peer.tester_ip}:{conn.peer.tester_port} >"
    lost = [line for line in lossy_tcp.bed.relay.log_lines() if ours in line and "drop" in line]
    lossy_tcp.record("the tester's ACKs the relay dropped", len(lost))
    if not lost:
        raise ScenarioNotReached("ACKs lost on the way", "the relay dropped none of ours")
