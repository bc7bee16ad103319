"""Sequence-number arithmetic on plain ints, modulo 2**32 (RFC 9293 section 3.4).

The hot path uses these functions; ``reference_impl.wire.seqnum.SeqNum`` is the same
arithmetic as a value type for APIs and tests.
"""

from __future__ import annotations

MASK = 0xFFFFFFFF
HALF = 0x80000000


def add(a: int, n: int) -> int:
    return (a + n) & MASK


def diff(a: int, b: int) -> int:
    """Signed distance a - b, in (-2**31, 2**31]."""
    d = (a - b) & MASK
    return d - (MASK + 1) if d > HALF else d


def lt(a: int, b: int) -> bool:
    return diff(a, b) < 0


def le(a: int, b: int) -> bool:
    return diff(a, b) <= 0


def gt(a: int, b: int) -> bool:
    return diff(a, b) > 0


def ge(a: int, b: int) -> bool:
    return diff(a, b) >= 0


def between(low: int, x: int, high: int) -> bool:
    """low <= x < high, modulo 2**32."""
    return le(low, x) and lt(x, high)
