"""The out-of-order queue: any arrival order delivers the stream once, in order."""

from hypothesis import given
from hypothesis import strategies as st

from reference_impl.tcp.reassembly import Reassembly

BASE = 2**32 - 500  # the queue works across the 2**32 wrap
STREAM = bytes((i * 13) & 0xFF for i in range(3000))


@given(st.lists(st.tuples(st.integers(0, 2999), st.integers(1, 400)), max_size=30))
def test_any_arrival_order_delivers_the_stream_once_in_order(pieces):
    queue = Reassembly()
    covered = set()
    for offset, length in pieces:
        if offset == 0:
            continue  # offset 0 would be in order: the connection delivers it directly
        chunk = STREAM[offset : offset + length]
        queue.insert((BASE + offset) % 2**32, chunk, BASE)
        covered |= set(range(offset, offset + len(chunk)))
        assert queue.queued_bytes == len(covered)
    queue.insert(BASE, STREAM[:1], BASE)  # now the first byte arrives...
    delivered, rcv_nxt = queue.pop_in_order(BASE)  # ...and everything contiguous follows
    assert delivered == STREAM[: len(delivered)]
    assert (rcv_nxt - BASE) % 2**32 == len(delivered)


def test_sack_blocks_put_the_newest_arrival_first_and_merge_neighbours():
    queue = Reassembly()
    queue.insert(101, b"a" * 100, 1)
    queue.insert(301, b"c" * 100, 1)
    queue.insert(501, b"e" * 100, 1)
    assert queue.blocks() == [(501, 601), (301, 401), (101, 201)]
    queue.insert(401, b"d" * 100, 1)  # joins 301..400 and 501..600
    assert queue.blocks() == [(301, 601), (101, 201)]


def test_overlapping_copy_keeps_the_first_bytes():
    queue = Reassembly()
    queue.insert(11, b"first", 1)
    queue.insert(9, b"XXsecondXX", 1)  # covers 9..18; 11..15 are queued already
    assert queue.queued_bytes == 10
    data, rcv_nxt = queue.pop_in_order(9)
    assert data == b"XXfirstdXX" and rcv_nxt == 19
