"""Flow control, zero-window probing, PSH, MSS and window scaling (RFC 9293 3.8.6, RFC 7323)."""

import itertools

from reference_impl.tcp.profiles import LINUX, RFC
from reference_impl.tcp.seq import add
from reference_impl.tcp.states import Timer
from reference_impl.wire.tcp import ACK, PSH
from tests.reference.helpers import MS, established

SMALL = RFC.with_(rcvbuf=4000, mss=1000, delayed_ack=False)


def test_established_receive_window_closes_as_data_is_buffered():
    remote = established(SMALL)
    windows = [remote.send(1 + 1000 * i, b"d" * 1000)[0].window for i in range(4)]
    assert windows == [3000, 2000, 1000, 0]


def test_established_read_reopens_the_window_with_a_same_ack_update():
    remote = established(SMALL)
    for i in range(4):
        (last,) = remote.send(1 + 1000 * i, b"d" * 1000)
    assert remote.conn.read(2000, now=0) == b"d" * 2000
    (update,) = remote.conn.outgoing()
    assert update.ack == last.ack and update.window == 2000 and not update.payload


def test_established_small_read_does_not_announce_a_silly_window():
    remote = established(SMALL)
    for i in range(4):
        remote.send(1 + 1000 * i, b"d" * 1000)
    remote.conn.read(10, now=0)
    assert remote.conn.outgoing() == []  # MUST-39: not worth announcing


def test_established_data_at_zero_window_is_not_accepted_but_acked():
    remote = established(SMALL)
    for i in range(4):
        remote.send(1 + 1000 * i, b"d" * 1000)
    (ack,) = remote.send(4001, b"x")
    assert remote.rel_ack(ack) == 4001 and ack.window == 0
    assert remote.conn.readable == 4000


def test_established_never_sends_beyond_the_peer_window():
    remote = established(RFC.with_(initial_window_segments=10), window=3000)
    out = remote.conn.send(b"s" * 10000, now=0)
    # Two full segments fit; the 80 bytes left are a silly window (MUST-38), so they wait.
    assert sum(len(s.payload) for s in out) == 2920 <= 3000


def test_established_zero_window_stops_sending_and_probes_with_backoff():
    remote = established(RFC.with_(initial_window_segments=10), window=1000)
    remote.conn.send(b"p" * 5000, now=0)
    assert remote.send(1, ack=1001, window=0) == []
    probes = []
    for _ in range(3):
        at = remote.conn.next_timer()
        (probe,) = remote.tick(at / MS)
        probes.append((at, remote.rel_seq(probe), len(probe.payload)))
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(probes)]
    assert all(rel == 1001 and size == 1 for _, rel, size in probes)  # one new byte
    assert gaps[1] == 2 * gaps[0]  # exponential backoff (SHLD-30)


def test_established_linux_style_probe_is_empty_below_snd_una():
    remote = established(LINUX.with_(initial_window_segments=10), window=1000)
    remote.conn.send(b"p" * 5000, now=0)
    remote.send(1, ack=1001, window=0)
    (probe,) = remote.tick(remote.conn.next_timer() / MS)
    assert remote.rel_seq(probe) == 1000 and not probe.payload


def test_established_resumes_on_window_update():
    remote = established(RFC.with_(initial_window_segments=10), window=1000)
    remote.conn.send(b"p" * 5000, now=0)
    remote.send(1, ack=1001, window=0)
    out = remote.send(1, ack=1001, window=2920)
    assert [remote.rel_seq(s) for s in out] == [1001, 2461]
    assert Timer.PERSIST not in remote.conn.timers


def test_established_shrunk_window_sends_nothing_new():
    remote = established(RFC.with_(initial_window_segments=10), window=8000)
    remote.conn.send(b"q" * 20000, now=0)
    assert remote.send(1, ack=1461, window=100) == []  # MUST-34: robust to shrinking


def test_established_psh_on_last_segment_of_a_write():
    remote = established(RFC.with_(initial_window_segments=10, nagle=False))
    out = remote.conn.send(b"m" * 4000, now=0)
    assert [bool(s.flags & PSH) for s in out] == [False, False, True]


def test_established_segments_follow_the_peers_mss():
    remote = established(RFC.with_(initial_window_segments=10, nagle=False), mss=536)
    out = remote.conn.send(b"m" * 2000, now=0)
    assert [len(s.payload) for s in out] == [536, 536, 536, 392]


def test_established_nagle_holds_a_small_segment_while_data_is_unacked():
    remote = established()
    (_first,) = remote.conn.send(b"a", now=0)
    assert remote.conn.send(b"b", now=0) == []
    (second,) = remote.send(1, ack=2)
    assert second.payload == b"b"


def test_established_nagle_off_sends_small_segments_at_once():
    remote = established(RFC.with_(nagle=False))
    remote.conn.send(b"a", now=0)
    assert len(remote.conn.send(b"b", now=0)) == 1


def test_established_window_scaling_applies_to_both_directions():
    remote = established(RFC.with_(window_scale=4, rcvbuf=1 << 20), wscale=2, window=1000)
    assert remote.conn.snd_wscale == 2 and remote.conn.rcv_wscale == 4
    remote.send(1, ack=1, window=1000)
    assert remote.conn.snd_wnd == 4000
    (ack,) = remote.send(1, b"z" * 3000)
    assert ack.window << 4 <= (1 << 20) and ack.window << 4 > 65535


def test_established_fin_is_sent_after_queued_data_and_acked_in_order():
    remote = established(RFC.with_(initial_window_segments=10))
    out = remote.conn.send(b"k" * 100, now=0) + remote.conn.shutdown(now=0)
    assert [remote.rel_seq(s) for s in out] in ([1, 101], [1])
    assert out[-1].flags & ACK
    remote.send(1, ack=102)
    assert remote.conn.state.value == "FIN-WAIT-2"
    assert add(remote.conn.snd_una, 0) == remote.conn.snd_nxt
