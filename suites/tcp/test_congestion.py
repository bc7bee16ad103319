"""Congestion control seen from the wire, with the tester choosing when to ACK: slow start
grows the flight, and a timeout leaves one segment in flight (RFC 5681 3.1; RFC 9293 MUST-19)."""

import pytest

from harness.core.bounds import OLD_INITIAL_RTO
from harness.core.errors import ConformanceFailure
from reference_impl.wire.tcp import ACK

BULK = 150_000  # more than three slow-start rounds, less than the send buffer asked for


def bulk_sender(tcp):
    conn = tcp.connect_to_target()
    tcp.set_option(conn, "nodelay", 1)
    tcp.set_option(conn, "sndbuf", 1 << 20)  # so that the write is queued at once
    tcp.app_write(conn, bytes(BULK))
    return conn, conn.peer


ROUND_END_S = 0.15  # a sender quiet this long has sent all its window allows
AFTER_RTO_S = 0.1  # what else comes right after a timeout's retransmission
BETWEEN_ACKS_S = 0.02  # the answers to one ACK before the next one goes out
TAIL_S = 0.2  # what follows the last ACK of a recovery


def burst(peer, quiet=ROUND_END_S):
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
            peer.send(flags=ACK, ack=seg.seq + seg.length)
        peer.send(flags=ACK, ack=end)
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
        within=tcp.within(OLD_INITIAL_RTO),
        skip_others=True,
        what="the retransmission after the timeout",
    ).segment
    more = [seg for seg in peer.collect(AFTER_RTO_S) if seg.length and seg.seq != 1]
    if more:
        raise ConformanceFailure(
            f"after the timeout {1 + len(more)} segments came, not one: "
            f"{[seg.describe() for seg in [retransmitted, *more][:4]]}"
        )


@pytest.mark.rfc("5681", "3.2", level="SHOULD")
def test_window_is_roughly_halved_after_three_duplicate_acks(tcp):
    """Round two of slow start is F segments; we lose its first and send a duplicate ACK for
    each of the others. A sender that halved its window (ssthresh = F/2) sends about F/2
    new segments in return, one that did not would send about F."""
    _conn, peer = bulk_sender(tcp)
    first = burst(peer)
    for seg in sorted(first, key=lambda s: s.seq):
        peer.send(flags=ACK, ack=seg.seq + seg.length)
    second = sorted(burst(peer), key=lambda s: s.seq)
    flight = len(second)
    if flight < 6:
        raise ConformanceFailure(f"round two had {flight} segments: too few to judge")
    lost, top = second[0], max(s.seq + s.length for s in second)
    new, retransmitted = [], False
    for _ in second[1:]:
        peer.send(flags=ACK, ack=lost.seq)  # a duplicate ACK per segment that arrived
        for seg in peer.collect(BETWEEN_ACKS_S):
            retransmitted |= seg.seq == lost.seq and seg.length > 0
            if seg.length and seg.seq >= top and seg.seq not in {s.seq for s in new}:
                new.append(seg)
    for seg in peer.collect(TAIL_S):
        retransmitted |= seg.seq == lost.seq and seg.length > 0
    tcp.measurements.append(
        f"flight before the loss: {flight} segments; new segments sent "
        f"during recovery: {len(new)} (halved window: about {flight // 2})"
    )
    if not retransmitted:
        raise ConformanceFailure("the lost segment was never retransmitted during recovery")
    if len(new) > 0.75 * flight:
        raise ConformanceFailure(
            f"{len(new)} new segments for a flight of {flight}: the window was not reduced"
        )
