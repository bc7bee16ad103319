"""Flow control: the peer's window bounds the sender, a zero window is probed with backoff,
the receiver's own window closes and reopens (RFC 9293 3.8.6, 3.8.6.1, 3.8.6.2), and PSH on
the last segment of a write and data without it delivered all the same (3.9.1.2)."""

import itertools

import pytest

from harness.core.bounds import (
    DELAYED_ACK,
    OLD_INITIAL_RTO,
    PROMPT_S,
    Bound,
)
from harness.core.bounds import ZERO_WINDOW_PROBE as PROBING_GOES_ON
from harness.core.errors import ConformanceFailure, ScenarioNotReached
from harness.tcp.classify import BEYOND_WINDOW, NEW_DATA, ZERO_WINDOW_PROBE, classify, of_kind
from harness.tcp.states import send_stray
from harness.tcp.stream import data_segments
from reference_impl.wire.tcp import ACK, PSH, RST

PROBE_WAIT_S = 8.0  # a first probe is due after one RTO (SHLD-29); 8 s covers 3 s RTOs twice

FLIGHT_S = 0.5  # long enough for a sender to put its whole window on the wire
# After the window opens the data comes at once or, at the latest, at the next persist
# timer: the harness waits for a probe interval after an RTO of 1 s has doubled once.
# Data without PSH may wait for more (RFC 9293 3.9.1.2) but not for ever: a receiver that
# still holds it after 2 s (four delayed-ACK bounds) is holding it.
UNPUSHED_S = 2.0
RESUME = Bound(4.0, "MUST", "RFC 9293 3.8.6.1 MUST-36", "sending resumes once the window opens")


def write_nodelay(tcp, conn, size):
    tcp.set_option(conn, "nodelay", 1)
    tcp.app_write(conn, bytes(size))


def zero_window_with_data_waiting(tcp):
    """The target holds data behind a zero window. Entered the way every sender honours: it
    sends 100 bytes and our ACK of them advertises zero (an ACK of new data always passes
    the SND.WL1/WL2 test of RFC 9293 3.10.7.4); then its application writes 1000 more."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    with tcp.precondition("data waiting behind a zero window"):
        write_nodelay(tcp, conn, 100)
        peer.expect_predicted(
            what="the first 100 bytes", fields=("seq", "length"), skip_others=True
        )
        peer.send(flags=ACK, ack=101, window=0)
        tcp.app_write(conn, bytes(1000))
    return conn


def zero_window_segments(tcp, conn, probes_wanted, within_each):
    """The target's segments while our window is zero, until ``probes_wanted`` probes came
    or ``within_each`` seconds passed without one. Data past the window means the target
    never honoured it: the scenario (a sender in persist) was not reached."""
    peer = conn.peer
    for _ in range(probes_wanted):
        peer.collect(within_each, until=lambda seg: seg.length <= 1 and seg.seq in (100, 101))
    named = classify(peer.exchange())
    beyond = of_kind(named, BEYOND_WINDOW)
    if beyond:
        raise ScenarioNotReached(
            "a sender in persist",
            f"the target sent {sum(s.length for s in beyond)} bytes past our zero window "
            "(test_sender_never_exceeds_the_advertised_window judges the window)",
        )
    return of_kind(named, ZERO_WINDOW_PROBE)


@pytest.mark.rfc("9293", "3.8.6", req="MUST-34")
def test_sender_never_exceeds_the_advertised_window(tcp):
    """With 3000 bytes of window the target sends at most 3000 bytes until we ACK."""
    conn = tcp.connect_to_target(window=3000)
    write_nodelay(tcp, conn, 20000)
    sent = [seg for seg in conn.peer.collect(FLIGHT_S) if seg.length]
    end = max((seg.seq + seg.length for seg in sent), default=1)
    if end == 1:
        raise ScenarioNotReached(
            "data in flight", "the target sent no data within 0.5 s of a 20000-byte write"
        )
    if end > 3001:
        raise ConformanceFailure(f"data up to {end - 1} beyond a window of 3000")


@pytest.mark.rfc("9293", "3.8.6.1", req="MUST-36")
def test_zero_window_is_probed(tcp):
    """Data waits behind a zero window: the target probes it (one byte at SND.UNA, or an
    empty segment just below it)."""
    conn = zero_window_with_data_waiting(tcp)
    sent_ns = conn.peer.last_sent_ns()
    probes = zero_window_segments(tcp, conn, 1, tcp.tolerance.window(PROBE_WAIT_S))
    if not probes:
        raise ConformanceFailure(
            f"no zero-window probe within {tcp.tolerance.window(PROBE_WAIT_S):.1f} s of our "
            "zero window (the first is due after one RTO, SHLD-29)"
        )
    tcp.measure("zero window -> first probe", (probes[0].ts_ns - sent_ns) / 1e9)


@pytest.mark.rfc("9293", "3.8.6.1", req="SHLD-30")
def test_zero_window_is_probed_with_exponential_backoff(tcp):
    """Our window stays zero: only probes come, each gap about twice the one before."""
    conn = zero_window_with_data_waiting(tcp)
    probes = zero_window_segments(tcp, conn, 3, tcp.tolerance.window(PROBE_WAIT_S))
    if len(probes) < 3:
        raise ScenarioNotReached(
            "three zero-window probes",
            f"{len(probes)} came (test_zero_window_is_probed judges probing itself)",
        )
    gaps = [(b.ts_ns - a.ts_ns) / 1e9 for a, b in itertools.pairwise(probes[:3])]
    tcp.measure("probe gap 1", gaps[0])
    tcp.measure("probe gap 2", gaps[1])
    if gaps[1] < 1.5 * gaps[0]:
        raise ConformanceFailure(f"probe gaps {gaps[0]:.3f} s then {gaps[1]:.3f} s: no backoff")


@pytest.mark.rfc("9293", "3.8.6.1", req="MUST-36")
def test_sending_resumes_when_the_window_opens(tcp):
    """After at least one probe of our zero window, a window update brings the data."""
    conn = zero_window_with_data_waiting(tcp)
    peer = conn.peer
    if not zero_window_segments(tcp, conn, 1, tcp.tolerance.window(PROBE_WAIT_S)):
        raise ScenarioNotReached(
            "a sender in persist", "no zero-window probe came (test_zero_window_is_probed)"
        )
    peer.send(flags=ACK, ack=101, window=65535)
    seen = peer.expect(
        seq=101,
        within=tcp.within(RESUME),
        skip_others=True,
        what="data once the window opens",
    ).segment
    if seen.length == 0:
        raise ConformanceFailure("the window opened but no data came")


@pytest.mark.rfc("9293", "3.10.7.4", level="SHOULD")
def test_a_bare_ack_updates_the_send_window(tcp):
    """An ACK that acknowledges nothing new but passes the SND.WL1/WL2 test sets the send
    window: after a bare ACK advertising zero, a new write is held back (only probes). RFC
    9293 states the update without a keyword; RFC 1122 4.2.2.16 says a sender SHOULD NOT
    send new data into a window that shrank."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    peer.send(flags=ACK, ack=1, window=0)
    write_nodelay(tcp, conn, 1000)
    peer.collect(PROMPT_S)
    named = classify(peer.exchange())
    sent = [seg for seg, kind in named if kind in (NEW_DATA, BEYOND_WINDOW)]
    tcp.record("segments after the bare zero-window ACK", [kind for _, kind in named] or "none")
    if sent:
        raise ConformanceFailure(
            f"after our bare ACK advertising a zero window the target sent "
            f"{sum(s.length for s in sent)} bytes of new data: it did not take the window"
        )


@pytest.mark.rfc("9293", "3.8.6.2.2", req="MUST-39")
def test_receive_window_closes_as_data_is_buffered_and_reopens_with_a_window_update(tcp):
    """The application does not read: each ACK advertises less. When it reads everything,
    the target sends a window update: same ACK number, a larger window."""
    conn = tcp.connect_to_target(rcvbuf=4096)
    peer = conn.peer
    windows, acked = [], 1
    for _ in range(40):
        peer.send(bytes(500))
        seen = peer.expect(flags=ACK, within=tcp.within(DELAYED_ACK), skip_others=True).segment
        windows.append(seen.window)
        acked = seen.ack
        if seen.window < 1000 or peer.snd_nxt > acked + 2000:
            break
    if not windows[-1] < windows[0]:
        raise ConformanceFailure(f"the window never closed while data was buffered: {windows}")
    tcp.app_read(conn, acked - 1)
    update = peer.expect(
        flags=ACK,
        within=tcp.within(DELAYED_ACK),
        skip_others=True,
        what="a window update after the application read",
    ).segment
    if update.ack != acked or update.window <= windows[-1]:
        raise ConformanceFailure(
            f"after the read: ack {update.ack} window {update.window}; want ack {acked} and a "
            f"window above {windows[-1]}"
        )


@pytest.mark.rfc("9293", "3.9.1.2", req="MUST-61")
def test_last_segment_of_a_write_carries_psh(tcp):
    conn = tcp.connect_to_target()
    write_nodelay(tcp, conn, 4000)
    segments, got = [], 0
    while got < 4000:
        seg = conn.peer.expect(within=PROMPT_S, skip_others=True, what="data").segment
        if seg.length:
            segments.append(seg)
            got = seg.seq - 1 + seg.length
            conn.peer.send(flags=ACK, ack=seg.seq + seg.length)
    last = max(segments, key=lambda s: s.seq)
    if not last.flags & PSH:
        raise ConformanceFailure(f"the last segment of the write ({last.describe()}) has no PSH")


@pytest.mark.rfc("9293", "3.9.1.2", req="MUST-60")
def test_data_without_push_reaches_the_application(tcp):
    """100 bytes on a segment without PSH: the target may wait for more before it hands
    them over, but not for ever; its application reads them within a PUSH-less wait."""
    conn = tcp.connect_to_target()
    conn.peer.send(b"p" * 100, flags=ACK)
    read = tcp.app_read(conn, 100, timeout=UNPUSHED_S)
    if read != b"p" * 100:
        raise ConformanceFailure(
            f"the application read {len(read)} of 100 bytes sent without PSH in {UNPUSHED_S:.0f} s"
        )


# -- windows above 32767, a window shrunk under data in flight, and a long zero window ----------


def bytes_sent_into(tcp, window):
    """How far the target's data reaches within FLIGHT_S of a 20000-byte write, on a fresh
    connection whose (unscaled) window is ``window``."""
    conn = tcp.connect_to_target(window=window)
    write_nodelay(tcp, conn, 20000)
    sent = [seg for seg in conn.peer.collect(FLIGHT_S) if seg.length]
    return max((seg.seq + seg.length for seg in sent), default=1) - 1


@pytest.mark.parametrize("window", [40000, 65535])
@pytest.mark.rfc("9293", "3.1", req="MUST-1")
def test_a_window_above_32767_is_unsigned(tcp, window):
    """A window with its top bit set, unscaled: read as a signed number it is negative and
    nothing could be sent; read right, data leaves at once (up to the congestion window),
    as it does with a window of 30000."""
    with tcp.precondition("data sent at once into a window of 30000"):
        if bytes_sent_into(tcp, 30000) <= 1:
            raise ScenarioNotReached(
                "data sent into an ordinary window", "none within 0.5 s with a window of 30000"
            )
    sent = bytes_sent_into(tcp, window)
    tcp.record("bytes sent in the first 0.5 s", sent)
    if sent <= 1:
        raise ConformanceFailure(
            f"with a window of {window} the target sent {sent} bytes in 0.5 s of a "
            "20000-byte write (it does with 30000): it did not take the window as unsigned"
        )
    if sent > window:
        raise ConformanceFailure(f"data up to {sent} beyond a window of {window}")


# A first probe comes when the zero window has lasted one RTO (SHLD-29). On a link with an RTT
# well under 1 ms the RTO is the stack's floor: 1 s by RFC 6298 2.4, 200 ms in Linux, and at
# most RFC 1122's initial 3 s. A probe within 100 ms waited for no timer at all.
EARLIEST_PROBE_S = 0.1
FIRST_PROBE = Bound(3.0, "SHOULD", "RFC 9293 3.8.6.1 SHLD-29", "the first probe after one RTO")


@pytest.mark.rfc("9293", "3.8.6.1", req="SHLD-29")
def test_the_first_zero_window_probe_waits_one_retransmission_timeout(tcp):
    conn = zero_window_with_data_waiting(tcp)
    sent_ns = conn.peer.last_sent_ns()
    probes = zero_window_segments(tcp, conn, 1, tcp.tolerance.window(PROBE_WAIT_S))
    if not probes:
        raise ScenarioNotReached("a zero-window probe", "none came (test_zero_window_is_probed)")
    delay = (probes[0].ts_ns - sent_ns) / 1e9
    tcp.measure("zero window -> first probe", delay, FIRST_PROBE)
    if delay < EARLIEST_PROBE_S:
        raise ConformanceFailure(f"the first probe came after {delay * 1000:.1f} ms: no RTO waited")
    if not FIRST_PROBE.met(delay, tcp.tolerance):
        raise ConformanceFailure(f"the first probe came after {delay:.2f} s, later than any RTO")


def answer_probes(conn, duration, ack):
    """For ``duration`` seconds, answer every segment at or below ``ack`` with our zero
    window; returns the segments that came."""
    peer, seen = conn.peer, []
    for seg in peer.collect(duration):
        seen.append(seg)
        if seg.seq <= ack:
            peer.send(flags=ACK, ack=ack, window=0)
    return seen


PERSIST_S = 20.0  # long enough for a stack that gives up after a few probes to show it


@pytest.mark.rfc("9293", "3.8.6.1", req="MUST-37")
def test_a_window_kept_at_zero_leaves_the_connection_open(tcp):
    """We answer every probe for 20 s, always with a zero window: the target keeps probing
    and keeps the connection; when the window opens, the data comes. (A stack that gives up
    after longer than 20 s of acknowledged probes is not caught here.)"""
    conn = zero_window_with_data_waiting(tcp)
    peer = conn.peer
    seen = answer_probes(conn, PERSIST_S, 101)
    resets = [seg.describe() for seg in seen if seg.flags & RST]
    if resets:
        raise ConformanceFailure(f"the target reset the connection at a zero window: {resets[0]}")
    probes = [seg for seg in seen if seg.seq <= 101]
    tcp.record("probes in 20 s of zero window", len(probes))
    if not probes or (peer.last_sent_ns() - probes[-1].ts_ns) / 1e9 > PROBING_GOES_ON.seconds:
        raise ConformanceFailure(f"probing stopped: {len(probes)} probes in {PERSIST_S:.0f} s")
    peer.send(flags=ACK, ack=101, window=65535)
    peer.expect(
        seq=101, within=tcp.within(RESUME), skip_others=True, what="data once the window opens"
    )


def flight_then_shrink(tcp, window):
    """The target sends 3000 bytes; our ACK of the first 1000 offers ``window`` bytes from
    there, so the right edge moves left from 65536 to 1001 + ``window``; 2000 more bytes
    wait in the target."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    with tcp.precondition("3000 bytes in flight, then a window shrunk under them"):
        write_nodelay(tcp, conn, 3000)
        got = 0
        while got < 3000:
            seg = peer.expect(within=PROMPT_S, skip_others=True, what="the flight").segment
            got = max(got, seg.seq - 1 + seg.length)
        peer.send(flags=ACK, ack=1001, window=window)
        tcp.app_write(conn, bytes(2000))
    return conn


@pytest.mark.rfc("9293", "3.8.6", req="MUST-35")
def test_a_window_shrunk_to_zero_is_probed(tcp):
    """After our window shrinks to zero under unacknowledged data, the target probes it (a
    probe or a retransmission at SND.UNA, within one backed-off RTO), and once the window
    opens the data flows again."""
    conn = flight_then_shrink(tcp, 0)
    peer = conn.peer
    seen = peer.collect(tcp.tolerance.window(PROBE_WAIT_S), until=lambda seg: seg.seq <= 1001)
    probes = [seg for seg in seen if seg.seq <= 1001]
    if not probes:
        raise ConformanceFailure(
            f"no probe of a window shrunk to zero within {PROBE_WAIT_S:.0f} s: "
            f"{[seg.describe() for seg in seen] or 'nothing came'}"
        )
    tcp.measure("shrink to zero -> first probe", (probes[0].ts_ns - peer.last_sent_ns()) / 1e9)
    peer.send(flags=ACK, ack=1001, window=65535)
    peer.expect(
        seq=1001, within=tcp.within(RESUME), skip_others=True, what="data once the window opens"
    )


@pytest.mark.rfc("9293", "3.8.6", req="SHLD-15")
def test_no_new_data_goes_into_a_shrunk_window(tcp):
    """Our window shrinks to end at 2001 with data out to 3001: nothing past 3001 is sent."""
    conn = flight_then_shrink(tcp, 1000)
    seen = conn.peer.collect(tcp.tolerance.window(OLD_INITIAL_RTO.seconds))
    new = [seg.describe() for seg in seen if seg.seq + seg.length > 3001]
    if new:
        raise ConformanceFailure(f"new data sent past a shrunk window: {new[0]}")


@pytest.mark.rfc("9293", "3.8.6", req="SHLD-16")
def test_old_data_inside_a_shrunk_window_is_retransmitted(tcp):
    """Our window shrinks to end at 2001 with data out to 3001: the data at 1001 (inside the
    window) is retransmitted when its timer fires."""
    conn = flight_then_shrink(tcp, 1000)
    seen = conn.peer.expect(
        seq=1001, within=tcp.within(OLD_INITIAL_RTO), skip_others=True, what="data at 1001 again"
    )
    tcp.measure("shrink -> retransmission", seen.delay_s, OLD_INITIAL_RTO)


@pytest.mark.rfc("9293", "3.8.6", req="SHLD-14")
def test_the_receive_windows_right_edge_never_moves_left(tcp):
    """The application does not read; every ACK's right edge (ACK + window) is at or past
    the one before, until the window closes and after the application reads."""
    conn = tcp.connect_to_target(rcvbuf=4096)
    peer = conn.peer
    edges = []
    for _ in range(40):
        peer.send(bytes(500))
        seen = peer.expect(flags=ACK, within=tcp.within(DELAYED_ACK), skip_others=True).segment
        edges.append(seen.ack + seen.window)
        if seen.window < 1000 or peer.snd_nxt > seen.ack + 2000:
            break
    tcp.app_read(conn, seen.ack - 1)
    update = peer.expect(flags=ACK, within=tcp.within(DELAYED_ACK), skip_others=True).segment
    edges.append(update.ack + update.window)
    tcp.record("right edges", edges)
    moved_left = [(a, b) for a, b in itertools.pairwise(edges) if b < a]
    if moved_left:
        raise ConformanceFailure(
            f"the right edge moved left from {moved_left[0][0]} to {moved_left[0][1]}"
        )


@pytest.mark.rfc("9293", "3.9.1.2", req="SHLD-28")
def test_a_large_write_leaves_in_full_sized_segments(tcp):
    """20000 bytes with a window of 65535: every segment but the last is full-sized."""
    conn = tcp.connect_to_target()
    write_nodelay(tcp, conn, 20000)
    sizes = [seg.length for seg in data_segments(conn.peer, 20000)]
    short = [size for size in sizes[:-1] if size < max(sizes)]
    tcp.record("segment sizes", sizes)
    if short:
        raise ConformanceFailure(
            f"{len(short)} segments under {max(sizes)} bytes before the last: {sizes}"
        )


@pytest.mark.rfc("9293", "3.8.6", req="SHLD-17")
def test_data_past_a_shrunk_window_does_not_time_the_connection_out(tcp):
    """Our window shrinks to zero under 2000 bytes in flight that we never acknowledge; for
    20 s we answer every probe or retransmission, always with a zero window. The target
    keeps the connection: an old segment of ours still draws an ACK, not an RST. (Whether
    the data then comes at once depends on the retransmission timer, backed off by now.)"""
    conn = flight_then_shrink(tcp, 0)
    peer = conn.peer
    seen = answer_probes(conn, PERSIST_S, 1001)
    resets = [seg.describe() for seg in seen if seg.flags & RST]
    if resets:
        raise ConformanceFailure(f"the target gave the connection up: {resets[0]}")
    tcp.record("segments in 20 s of a window shrunk to zero", len(seen))
    send_stray(conn, flags=ACK, seq=peer.snd_nxt - 1, ack=1001, window=0)
    answer = peer.expect(
        within=tcp.within(DELAYED_ACK),
        skip_others=True,
        what="an answer from the connection",
    ).segment
    if answer.flags & RST:
        raise ConformanceFailure(f"the connection is gone: {answer.describe()}")


# RFC 9293 3.8.6.2.1: a sender waits for a window it can fill with a full segment (or half
# the largest window it has seen) unless the data is pushed and all of it fits; an override
# timer may send anyway after 0.1 to 1 s. So nothing small goes out in the first 0.1 s.
OVERRIDE_S = 0.1


@pytest.mark.rfc("9293", "3.8.6.2.1", req="MUST-38")
def test_a_small_window_opening_is_not_filled_at_once(tcp):
    """20000 bytes wait behind our zero window (after a window of 65535); the window opens
    by 200 bytes only: the target does not send 200 bytes at once (silly window)."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    with tcp.precondition("data waiting behind a zero window"):
        write_nodelay(tcp, conn, 1000)
        first = peer.expect_predicted(what="data", fields=("seq",), skip_others=True)
        peer.send(flags=ACK, ack=1 + first.segment.length, window=0)
        tcp.app_write(conn, bytes(20000))
        peer.collect(0.3)  # whatever was already on its way
    acked = 1 + first.segment.length
    peer.send(flags=ACK, ack=acked, window=200)
    small = [seg for seg in peer.collect(OVERRIDE_S) if seg.length > 1]
    tcp.record(
        "segments within 100 ms of a 200-byte window", [s.describe() for s in small] or "none"
    )
    if small:
        raise ConformanceFailure(
            f"{small[0].length} bytes sent at once into a 200-byte window opening "
            f"(largest window seen 65535): {small[0].describe()}"
        )
