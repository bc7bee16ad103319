"""How long a stack keeps trying (RFC 9293 3.8.3): a connection attempt for at least 3
minutes (MUST-23) and then given up like any other (MUST-22); data retransmitted for at least
100 s (SHLD-11) and the connection closed once R2 is reached (MUST-20).

These wait minutes by the RFC's own numbers, so they are marked ``long`` and run only with
``--long``. Whether a stack still tries is asked on the wire: our SYN-ACK (or ACK) at the
moment in question completes the connection if it does, and draws an RST if it gave up.
"""

import time

import pytest

from harness.core.bounds import PROMPT_S
from harness.core.errors import ConformanceFailure
from harness.tcp.states import reach
from reference_impl.wire.tcp import ACK, RST, SYN

pytestmark = pytest.mark.long

SYN_R2_S = 180.0  # MUST-23
DATA_R2_S = 100.0  # SHLD-11
GIVE_UP_CAP_S = 30 * 60.0  # how long the harness waits for a stack to give up at all


def attempt(tcp):
    """The target's application connects to a tester that never answers."""
    peer = reach(tcp, "SYN-SENT").peer
    return peer, peer.target_syn.ts_ns


def wait_until(start_ns: int, seconds: float, peer) -> None:
    """Let the target's segments come (they are captured) until ``seconds`` after start."""
    remaining = seconds - (time.time_ns() - start_ns) / 1e9
    if remaining > 0:
        peer.collect(remaining)


def silence_after_last(peer, cap_s: float) -> float:
    """Collect until the target has been silent for twice its last gap (or 60 s at least):
    it has stopped retransmitting. Returns the seconds it kept going."""
    deadline = time.monotonic() + cap_s
    times = [seg.ts_ns for seg in peer.segments if not seg.from_tester]
    while time.monotonic() < deadline:
        gap = (times[-1] - times[-2]) / 1e9 if len(times) > 1 else 1.0
        more = peer.collect(max(2 * gap, 60.0), until=lambda seg: True)
        if not more:
            return (times[-1] - times[0]) / 1e9
        times.append(more[-1].ts_ns)
    raise ConformanceFailure(f"still retransmitting after {cap_s / 60:.0f} minutes")


@pytest.mark.rfc("9293", "3.8.3", req="MUST-23")
def test_a_connection_attempt_is_kept_up_for_three_minutes(tcp):
    peer, start = attempt(tcp)
    wait_until(start, SYN_R2_S, peer)
    syns = sum(1 for seg in peer.segments if not seg.from_tester and seg.flags & SYN)
    tcp.record("SYNs in 3 minutes", syns)
    peer.send(flags=SYN | ACK, seq=0, ack=1)
    answer = peer.expect(within=PROMPT_S, skip_others=True, what="the answer to our SYN-ACK")
    if answer.segment.flags & RST:
        raise ConformanceFailure(
            f"the attempt was given up before 3 minutes ({syns} SYNs): our SYN-ACK at 180 s "
            f"drew {answer.segment.describe()}"
        )


@pytest.mark.rfc("9293", "3.8.3", req="MUST-22")
def test_a_connection_attempt_is_given_up_in_the_end(tcp):
    """The SYNs stop; the attempt is then closed: our SYN-ACK draws an RST."""
    peer, _start = attempt(tcp)
    kept = silence_after_last(peer, GIVE_UP_CAP_S)
    tcp.measure("SYNs sent for", kept)
    peer.send(flags=SYN | ACK, seq=0, ack=1)
    peer.expect(flags=(RST, RST | ACK), within=PROMPT_S, skip_others=True, what="RST: given up")


def unacknowledged_data(tcp):
    conn = tcp.connect_to_target()
    with tcp.precondition("data the tester never acknowledges"):
        tcp.app_write(conn, b"r" * 100)
        first = conn.peer.expect_predicted(what="the data", fields=("seq", "length")).segment
    return conn, first.ts_ns


@pytest.mark.rfc("9293", "3.8.3", req="SHLD-11")
def test_retransmissions_go_on_for_100_seconds(tcp):
    """After 100 s of unacknowledged retransmissions our ACK is still taken: the next write
    arrives."""
    conn, start = unacknowledged_data(tcp)
    wait_until(start, DATA_R2_S, conn.peer)
    conn.peer.send(flags=ACK, ack=101)
    tcp.app_write(conn, b"s" * 100)
    seen = conn.peer.expect(within=PROMPT_S, skip_others=True, what="data after 100 s").segment
    if seen.flags & RST or seen.seq != 101:
        raise ConformanceFailure(f"after 100 s the connection was gone: {seen.describe()}")


@pytest.mark.rfc("9293", "3.8.3", req="MUST-20")
def test_the_connection_is_closed_once_retransmissions_stop(tcp):
    """The retransmissions stop at R2; the connection is then closed: our ACK draws RST."""
    conn, _start = unacknowledged_data(tcp)
    kept = silence_after_last(conn.peer, GIVE_UP_CAP_S)
    tcp.measure("data retransmitted for", kept)
    conn.peer.send(b"?", flags=ACK, ack=101)
    conn.peer.expect(flags=(RST, RST | ACK), within=PROMPT_S, skip_others=True, what="RST: closed")
