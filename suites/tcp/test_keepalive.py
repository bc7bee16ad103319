"""Keep-alives (RFC 9293 3.8.4): off unless the application asks; when on, sent only after
an idle interval, empty, and not given up after one unanswered probe.

The application turns them on through the control protocol's ``set keepalive`` (seconds of
idle, also the interval between unanswered probes); a target without that option makes
those checks UNSUPPORTED. A probe is an ACK one below the target's SND.NXT (its
acknowledgement must come back), empty or with one garbage octet.
"""

import pytest

from harness.core.bounds import DELAYED_ACK
from harness.core.errors import ConformanceFailure, ScenarioNotReached
from reference_impl.wire.tcp import ACK, RST

IDLE_S = 2  # the keep-alive interval the tests ask for
QUIET_DEFAULT_S = 6.0  # how long an idle connection is watched for unasked keep-alives


def keepalive_on(tcp):
    """A connection with 100 bytes exchanged, then keep-alives every IDLE_S seconds."""
    conn = tcp.connect_to_target()
    tcp.set_option(conn, "keepalive", IDLE_S)
    conn.peer.send(b"k" * 100)
    conn.peer.expect_predicted(what="the ACK of our data", bound=DELAYED_ACK, skip_others=True)
    return conn


def is_probe(seg) -> bool:
    return seg.seq == 0 and seg.length <= 1 and not seg.flags & RST


def next_probe(tcp, conn, within):
    seen = conn.peer.collect(tcp.tolerance.wait(within), until=is_probe)
    probes = [seg for seg in seen if is_probe(seg)]
    return probes[0] if probes else None, seen


@pytest.mark.rfc("9293", "3.8.4", req="MUST-25")
def test_an_idle_connection_sends_no_keepalive_unasked(tcp):
    """Nobody asked for keep-alives: in 6 s of idle nothing comes. (A stack that has them
    on with its default interval, at least 2 hours by MUST-28, cannot be told apart here.)"""
    conn = tcp.connect_to_target()
    conn.peer.send(b"i" * 100)
    conn.peer.expect_predicted(what="the ACK of our data", bound=DELAYED_ACK, skip_others=True)
    seen = conn.peer.collect(QUIET_DEFAULT_S)
    if seen:
        raise ConformanceFailure(f"an idle connection sent, unasked: {seen[0].describe()}")


@pytest.mark.rfc("9293", "3.8.4", req="MUST-26")
def test_a_keepalive_comes_only_after_the_idle_interval(tcp):
    conn = keepalive_on(tcp)
    idle_from = conn.peer.last_sent_ns()
    probe, _seen = next_probe(tcp, conn, IDLE_S * 2 + 1)
    if probe is None:
        raise ScenarioNotReached(
            "a keep-alive", f"none in {IDLE_S * 2 + 1} s after asking for one every {IDLE_S} s"
        )
    waited = (probe.ts_ns - idle_from) / 1e9
    tcp.measure("idle -> first keep-alive", waited)
    if waited < IDLE_S - tcp.tolerance.floor_s:
        raise ConformanceFailure(f"a keep-alive after {waited:.2f} s of idle, asked for {IDLE_S} s")


@pytest.mark.rfc("9293", "3.8.4", req="SHLD-12")
def test_a_keepalive_carries_no_data(tcp):
    probe, _seen = next_probe(tcp, keepalive_on(tcp), IDLE_S * 2 + 1)
    if probe is None:
        raise ScenarioNotReached("a keep-alive", f"none in {IDLE_S * 2 + 1} s")
    if probe.length:
        raise ConformanceFailure(
            f"a keep-alive with {probe.length} byte of data: {probe.describe()}"
        )


@pytest.mark.rfc("9293", "3.8.4", req="MUST-29")
def test_one_unanswered_keepalive_does_not_end_the_connection(tcp):
    """We let the first probe go unanswered: another comes, not an RST."""
    conn = keepalive_on(tcp)
    first, _seen = next_probe(tcp, conn, IDLE_S * 2 + 1)
    if first is None:
        raise ScenarioNotReached("a keep-alive", f"none in {IDLE_S * 2 + 1} s")
    second, seen = next_probe(tcp, conn, IDLE_S * 2 + 1)
    resets = [seg.describe() for seg in seen if seg.flags & RST]
    if resets:
        raise ConformanceFailure(f"one unanswered keep-alive ended the connection: {resets[0]}")
    if second is None:
        raise ConformanceFailure(
            f"no keep-alive after the unanswered one within {IDLE_S * 2 + 1} s"
        )
    conn.peer.send(flags=ACK)  # answer it now: the connection lives on
