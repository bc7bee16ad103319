from hypothesis import given
from hypothesis import strategies as st

from reference_impl.tcp.seq import MOD, absolute, add, diff, ge, lt, relative

u32 = st.integers(min_value=0, max_value=MOD - 1)


def test_sequence_numbers_wrap_past_2_32():
    assert add(MOD - 1, 2) == 1
    assert add(1, -2) == MOD - 1


def test_sequence_numbers_order_across_the_wrap():
    assert lt(MOD - 10, 5)
    assert not lt(5, MOD - 10)
    assert diff(5, MOD - 10) == 15


@given(u32, st.integers(min_value=0, max_value=(1 << 31) - 1))
def test_adding_a_forward_distance_moves_forward(a, n):
    assert ge(add(a, n), a)
    assert diff(add(a, n), a) == n


@given(u32, u32)
def test_relative_and_absolute_are_inverse(origin, value):
    assert absolute(relative(value, origin), origin) == value
