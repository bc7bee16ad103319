"""Retransmission timer (RFC 6298) and fast retransmit / recovery (RFC 5681, RFC 6582)."""

from reference_impl.tcp.profiles import RFC
from reference_impl.tcp.rtt import RttEstimator
from reference_impl.tcp.seq import add
from tests.reference.helpers import ISS, MS, established

S = 1000 * MS


def test_rtt_first_sample_sets_srtt_and_rttvar():
    est = RttEstimator(1 * S, 1 * S, 60 * S, 1 * MS)
    est.on_sample(100 * MS)
    assert (est.srtt_us, est.rttvar_us, est.rto_us) == (100 * MS, 50 * MS, 1 * S)  # min 1 s


def test_rtt_later_samples_use_alpha_and_beta():
    est = RttEstimator(1 * S, 10 * MS, 60 * S, 1 * MS)
    est.on_sample(100 * MS)
    est.on_sample(200 * MS)
    assert est.rttvar_us == 50 * MS + (100 * MS - 50 * MS) // 4
    assert est.srtt_us == 100 * MS + 100 * MS // 8
    assert est.rto_us == est.srtt_us + 4 * est.rttvar_us


def test_rtt_backoff_doubles_up_to_the_maximum():
    est = RttEstimator(1 * S, 1 * S, 60 * S, 1 * MS)
    values = []
    for _ in range(8):
        est.on_timeout()
        values.append(est.rto_us // S)
    assert values == [2, 4, 8, 16, 32, 60, 60, 60]


def test_established_rto_retransmits_the_earliest_unacked_segment():
    remote = established(RFC.with_(initial_window_segments=4))
    out = remote.conn.send(b"x" * 4380, now=0)
    assert [remote.rel_seq(s) for s in out] == [1, 1461, 2921]
    (again,) = remote.tick(RFC.initial_rto_us / MS)
    assert remote.rel_seq(again) == 1 and len(again.payload) == 1460
    assert remote.conn.cc.cwnd == remote.conn.eff_mss  # one segment after a timeout
    assert remote.conn.next_timer() == RFC.initial_rto_us + 2 * RFC.initial_rto_us  # backed off


def test_established_karn_ignores_acks_of_retransmitted_segments():
    remote = established()
    remote.conn.send(b"x" * 100, now=0)
    remote.tick(RFC.initial_rto_us / MS)
    remote.now = 2500 * MS
    remote.send(1, ack=101)
    assert remote.conn.rtt.srtt_us is None or remote.conn.rtt.srtt_us < 2500 * MS


def test_established_rtt_sample_from_new_data():
    remote = established()
    remote.conn.send(b"x" * 100, now=0)
    remote.now = 30 * MS
    remote.send(1, ack=101)
    # The handshake gave a first sample of 0 us; this one moves SRTT by 1/8 of 30 ms.
    assert remote.conn.rtt.srtt_us == 30 * MS // 8


def test_established_third_duplicate_ack_fast_retransmits_not_the_second():
    remote = established(RFC.with_(initial_window_segments=10, nagle=False))
    # The seed's example, in bytes: ten-byte segments 0..40 (here 1..50), segment at 21 lost.
    for _ in range(5):
        remote.conn.send(b"y" * 10, now=0)
    remote.send(1, ack=11)
    remote.send(1, ack=21)
    assert remote.send(1, ack=21) == []  # first duplicate
    assert remote.send(1, ack=21) == []  # second
    (fast,) = remote.send(1, ack=21)  # third: fast retransmit, long before the RTO
    # The lost bytes are resent first (here repacketized with what follows: RFC 9293 allows it).
    assert remote.rel_seq(fast) == 21 and len(fast.payload) >= 10
    assert remote.conn.cc.in_recovery


def test_established_fast_recovery_halves_the_window():
    remote = established(RFC.with_(initial_window_segments=10))
    remote.conn.send(b"z" * 14600, now=0)
    flight = remote.conn.snd_nxt - add(ISS, 1)
    for _ in range(4):
        remote.send(1, ack=1)
    cc = remote.conn.cc
    assert cc.ssthresh == flight // 2
    assert cc.cwnd == cc.ssthresh + 4 * remote.conn.eff_mss  # +3 SMSS, +1 per further dup


def test_established_partial_ack_retransmits_the_next_hole():
    remote = established(RFC.with_(initial_window_segments=10))
    remote.conn.send(b"z" * 14600, now=0)
    for _ in range(3):
        remote.send(1, ack=1)
    out = remote.send(1, ack=1461)  # partial: the next segment was lost too
    assert any(remote.rel_seq(s) == 1461 for s in out)
    assert remote.conn.cc.in_recovery
    remote.send(1, ack=14601)  # full ACK ends recovery
    assert not remote.conn.cc.in_recovery


def test_established_slow_start_grows_cwnd_by_one_smss_per_ack():
    remote = established(RFC.with_(initial_window_segments=2))
    remote.conn.send(b"w" * 20000, now=0)
    start = remote.conn.cc.cwnd
    remote.send(1, ack=1461)
    remote.send(1, ack=2921)
    assert remote.conn.cc.cwnd == start + 2 * 1460


def test_established_gives_up_after_data_retries():
    remote = established(RFC.with_(data_retries=3))
    remote.conn.send(b"x", now=0)
    while remote.conn.next_timer() is not None:
        remote.tick(remote.conn.next_timer() / MS)
    assert remote.conn.error == "timeout"
