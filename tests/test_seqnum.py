from hypothesis import given
from hypothesis import strategies as st

from reference_impl.wire.seqnum import MOD, SeqNum, absolute, relative

u32 = st.integers(min_value=0, max_value=MOD - 1)


def test_seqnum_wraps_past_2_32():
    assert SeqNum(MOD - 1) + 2 == SeqNum(1)
    assert SeqNum(1) - 2 == SeqNum(MOD - 1)


def test_seqnum_orders_across_the_wrap():
    assert SeqNum(MOD - 10) < SeqNum(5)
    assert SeqNum(5) > SeqNum(MOD - 10)
    assert SeqNum(5).distance_from(SeqNum(MOD - 10)) == 15


@given(u32, st.integers(min_value=0, max_value=(1 << 31) - 1))
def test_seqnum_adding_a_forward_distance_moves_forward(a, n):
    start = SeqNum(a)
    assert start + n >= start
    assert (start + n).distance_from(start) == n


@given(u32, u32)
def test_relative_and_absolute_are_inverse(origin, value):
    assert absolute(relative(value, origin), origin) == value
