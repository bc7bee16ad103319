"""Flow control: the peer's window bounds the sender, a zero window is probed with backoff,
the receiver's own window closes and reopens (RFC 9293 3.8.6, 3.8.6.1, 3.8.6.2), and PSH on
the last segment of a write (3.9.1.2)."""

import itertools
import time

import pytest

from harness.errors import ConformanceFailure


def close_window(peer):
    """Advertise a zero window, and give the target a moment to take it in before the test
    makes its application write (otherwise the write may race the announcement)."""
    peer.send(flags="A", ack=1, window=0)
    time.sleep(0.05)


def write_nodelay(tcp, conn, size):
    tcp.set_option(conn, "nodelay", 1)
    tcp.app_write(conn, bytes(size))


@pytest.mark.rfc("9293", "3.8.6", req="MUST-34")
def test_sender_never_exceeds_the_advertised_window(tcp):
    """With 3000 bytes of window the target sends at most 3000 bytes until we ACK."""
    conn = tcp.connect_to_target(window=3000)
    write_nodelay(tcp, conn, 20000)
    sent = [seg for seg in conn.peer.collect(0.5) if seg.length]
    end = max((seg.seq + seg.length for seg in sent), default=1)
    if end > 3001:
        raise ConformanceFailure(f"data up to {end - 1} beyond a window of 3000")
    if end == 1:
        raise ConformanceFailure("no data at all within an open window of 3000 bytes")


@pytest.mark.rfc("9293", "3.8.6.1", req="SHLD-30")
def test_zero_window_is_probed_with_exponential_backoff(tcp):
    """Our window is zero: the target sends no data, only probes, each gap about twice the
    one before (SHLD-29: the first after about one RTO)."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    close_window(peer)
    write_nodelay(tcp, conn, 1000)
    probes = []
    for index in range(3):
        probes.append(
            peer.expect(
                within=tcp.tolerance.widen(8.0),
                skip_others=False,
                what=f"zero-window probe {index + 1}",
            ).segment
        )
    if any(seg.length > 1 for seg in probes):
        raise ConformanceFailure(
            f"probes carried {[s.length for s in probes]} bytes into a zero window"
        )
    gaps = [(b.ts_ns - a.ts_ns) / 1e9 for a, b in itertools.pairwise(probes)]
    tcp.measure("probe gap 1", gaps[0])
    tcp.measure("probe gap 2", gaps[1])
    if gaps[1] < 1.5 * gaps[0]:
        raise ConformanceFailure(f"probe gaps {gaps[0]:.3f} s then {gaps[1]:.3f} s: no backoff")


@pytest.mark.rfc("9293", "3.8.6.1", req="MUST-36")
def test_sending_resumes_when_the_window_opens(tcp):
    conn = tcp.connect_to_target()
    peer = conn.peer
    close_window(peer)
    write_nodelay(tcp, conn, 1000)
    peer.expect(within=tcp.tolerance.widen(4.0), what="a zero-window probe")
    peer.send(flags="A", ack=1, window=65535)  # nothing accepted: the window was zero
    seen = peer.expect(
        seq=1, within=tcp.tolerance.widen(4.0), skip_others=True, what="data once the window opens"
    ).segment
    if seen.length == 0:
        raise ConformanceFailure("the window opened but no data came")


@pytest.mark.rfc("9293", "3.8.6.2.2", req="MUST-39")
def test_receive_window_closes_as_data_is_buffered_and_reopens_with_a_window_update(tcp):
    """The application does not read: each ACK advertises less. When it reads everything,
    the target sends a window update: same ACK number, a larger window."""
    conn = tcp.connect_to_target(rcvbuf=4096)
    peer = conn.peer
    windows, acked = [], 1
    for _ in range(40):
        peer.send(bytes(500))
        seen = peer.expect(flags="A", within=tcp.tolerance.widen(0.5), skip_others=True).segment
        windows.append(seen.window)
        acked = seen.ack
        if seen.window < 1000 or peer.snd_nxt > acked + 2000:
            break
    if not windows[-1] < windows[0]:
        raise ConformanceFailure(f"the window never closed while data was buffered: {windows}")
    tcp.app_read(conn, acked - 1)
    update = peer.expect(
        flags="A",
        within=tcp.tolerance.widen(0.5),
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
        seg = conn.peer.expect(within=1.0, skip_others=True, what="data").segment
        if seg.length:
            segments.append(seg)
            got = seg.seq - 1 + seg.length
            conn.peer.send(flags="A", ack=seg.seq + seg.length)
    last = max(segments, key=lambda s: s.seq)
    if "P" not in last.flags:
        raise ConformanceFailure(f"the last segment of the write ({last.describe()}) has no PSH")
