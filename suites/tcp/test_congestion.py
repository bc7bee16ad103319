"""Congestion control seen from the wire, with the tester choosing when to ACK: slow start
grows the flight, and a timeout leaves one segment in flight (RFC 5681 3.1; RFC 9293 MUST-19)."""

import pytest

from harness.errors import ConformanceFailure

BULK = 150_000  # more than three slow-start rounds, less than the send buffer asked for


def bulk_sender(tcp):
    conn = tcp.connect_to_target()
    tcp.set_option(conn, "nodelay", 1)
    tcp.set_option(conn, "sndbuf", 1 << 20)  # so that the write is queued at once
    tcp.app_write(conn, bytes(BULK))
    return conn, conn.peer


def burst(peer, quiet=0.15):
    """Data segments the target sends before it needs another ACK."""
    return [seg for seg in peer.collect(quiet) if seg.length]


@pytest.mark.rfc("5681", "3.1", level="MUST")
def test_slow_start_grows_the_flight_each_round(tcp):
    """We ACK each round whole: the next round is bigger (about twice in slow start)."""
    _conn, peer = bulk_sender(tcp)
    rounds = []
    for _ in range(3):
        sent = burst(peer)
        if not sent:
            break
        rounds.append(len(sent))
        end = max(seg.seq + seg.length for seg in sent)
        for seg in sorted(sent, key=lambda s: s.seq):  # one ACK per segment, as a receiver would
            peer.send(flags="A", ack=seg.seq + seg.length)
        peer.send(flags="A", ack=end)
    tcp.measure("segments per round", 0.0)
    tcp.measurements[-1] = f"segments per round: {rounds}"
    if len(rounds) < 3 or not rounds[1] > rounds[0] or not rounds[2] > rounds[1]:
        raise ConformanceFailure(f"segments per round {rounds}: the flight did not grow")


@pytest.mark.rfc("5681", "3.1", level="MUST")
def test_after_a_timeout_one_segment_is_in_flight(tcp):
    """Nothing is acknowledged until the timer fires: then only the earliest segment comes
    (the loss window is one segment), not the whole flight again."""
    _conn, peer = bulk_sender(tcp)
    first = burst(peer)
    if not first:
        raise ConformanceFailure("no data at all")
    retransmitted = peer.expect(
        seq=1,
        within=tcp.tolerance.widen(3.0),
        skip_others=True,
        what="the retransmission after the timeout",
    ).segment
    more = [seg for seg in peer.collect(0.1) if seg.length and seg.seq != 1]
    if more:
        raise ConformanceFailure(
            f"after the timeout {1 + len(more)} segments came, not one: "
            f"{[seg.describe() for seg in [retransmitted, *more][:4]]}"
        )
