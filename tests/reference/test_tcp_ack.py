"""Generating ACKs (RFC 9293 3.8.6.3, 3.10.7.4; RFC 5681 4.2; RFC 2018)."""

from reference_impl.tcp.profiles import LINUX, RFC
from reference_impl.tcp.seq import add
from reference_impl.wire.tcp import ACK, Sack
from tests.reference.helpers import MS, PEER_ISS, established


def test_established_data_is_acked_with_seq_plus_len_after_the_delay():
    remote = established()
    assert remote.send(1, b"x" * 100) == []  # delayed
    assert remote.conn.next_timer() == RFC.ack_delay_us
    (ack,) = remote.tick(RFC.ack_delay_us / MS)
    assert remote.rel_ack(ack) == 101


def test_established_delayed_ack_never_reaches_500_ms():
    for delay in (RFC.ack_delay_us, LINUX.ack_delay_us):
        assert delay < 500 * MS  # MUST-40


def test_established_every_second_full_sized_segment_is_acked_at_once():
    remote = established()
    assert remote.send(1, b"a" * 1460) == []
    (ack,) = remote.send(1461, b"b" * 1460)  # SHLD-19
    assert remote.rel_ack(ack) == 2921


def test_established_linux_profile_quickacks_the_first_segments():
    remote = established(LINUX)
    (ack,) = remote.send(1, b"x" * 10)
    assert remote.rel_ack(ack) == 11


def test_established_out_of_order_segment_draws_immediate_duplicate_ack():
    remote = established()
    remote.send(1, b"a" * 100)
    remote.tick(RFC.ack_delay_us / MS)
    (dup,) = remote.send(201, b"c" * 100)
    assert remote.rel_ack(dup) == 101 and not dup.payload


def test_established_hole_fill_acks_everything_buffered_and_delivers_in_order():
    remote = established()
    parts = {i: bytes([65 + i]) * 100 for i in range(8)}
    for i in range(8):
        if i == 2:
            continue
        out = remote.send(1 + 100 * i, parts[i])
        if i > 2:
            assert [remote.rel_ack(s) for s in out] == [201]
    (ack,) = remote.send(201, parts[2])
    assert remote.rel_ack(ack) == 801
    assert remote.conn.read(1000, now=0) == b"".join(parts[i] for i in range(8))


def test_established_duplicate_segment_is_acked_and_not_delivered_twice():
    remote = established()
    remote.send(1, b"once")
    (ack,) = remote.send(1, b"once")
    assert remote.rel_ack(ack) == 5
    assert remote.conn.read(100, now=0) == b"once"
    assert remote.conn.read(100, now=0) == b""


def test_established_overlapping_retransmission_delivers_only_new_bytes():
    remote = established()
    remote.send(1, b"abcd")
    remote.send(3, b"cdef")
    assert remote.conn.read(100, now=0) == b"abcdef"


def test_established_sack_blocks_put_the_newest_segment_first():
    remote = established(sack=True)
    remote.send(1, b"a" * 100)
    remote.send(201, b"c" * 100)
    (ack,) = remote.send(401, b"e" * 100)
    sack = ack.option(Sack)
    assert isinstance(sack, Sack)
    rel = [(b - add(PEER_ISS, 0), e - add(PEER_ISS, 0)) for b, e in sack.blocks]
    assert [((b) % 2**32, (e) % 2**32) for b, e in rel] == [(401, 501), (201, 301)]
    (ack,) = remote.send(301, b"d" * 100)  # joins the two blocks
    sack = ack.option(Sack)
    assert isinstance(sack, Sack) and len(sack.blocks) == 1


def test_established_no_sack_when_not_negotiated():
    remote = established(sack=False)
    remote.send(1, b"a")
    (ack,) = remote.send(201, b"c")
    assert ack.option(Sack) is None


def test_established_segment_beyond_window_is_not_acceptable():
    remote = established()
    (ack,) = remote.send(70_000, b"far")
    assert ack.flags == ACK and remote.rel_ack(ack) == 1
    assert remote.conn.readable == 0
