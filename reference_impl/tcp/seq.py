"""Sequence numbers as RFC 9293 section 3.4 defines them: 32-bit plain ints, compared and
added modulo 2**32. The reference's one sequence-number type: the connection, the
reassembly queue and the harness's relative numbering all use these functions."""

from __future__ import annotations

MASK = 0xFFFFFFFF
MOD = MASK + 1
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


def relative(absolute_seq: int, origin: int) -> int:
    """Offset of an absolute sequence number from an origin (an ISN), modulo 2**32."""
    return (absolute_seq - origin) & MASK


def absolute(offset: int, origin: int) -> int:
    """The absolute sequence number at an offset from an origin."""
    return (origin + offset) & MASK
